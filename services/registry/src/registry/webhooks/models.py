"""Webhook subscriptions to the change feed and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model, Revised

SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")


class Subscription(Revised, Model):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_due", "active", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_org: Mapped[str | None] = mapped_column(String(20), index=True)
    owner_subject: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    # Needed in clear to sign deliveries (HMAC), so encrypted, not hashed: stored as
    # ``enc1:<Fernet token>`` (secretbox.py); shown to the subscriber once.
    secret: Mapped[str] = mapped_column(String(400))
    event_types: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    cursor: Mapped[int] = mapped_column(SEQUENCE, default=0)
    failure_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_until: Mapped[datetime | None]


class Delivery(Model):
    """One attempt to deliver one event to one subscription (append-only)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_subscription", "subscription_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(36))
    event_sequence: Mapped[int] = mapped_column(SEQUENCE)
    event_type: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int]
