"""Integrations (koppelingen): which offering connects to which, and how."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Model, Revised

KINDS = ("api", "file-transfer", "digikoppeling", "message-queue", "other")
STATUSES = ("planned", "active", "ended")
DIRECTIONS = ("one-way", "two-way")


class Integration(Revised, Model):
    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint(
            "source_offering_id", "target_offering_id", "kind", name="uq_integrations_pair_kind"
        ),
        Index("ix_integrations_target", "target_offering_id"),
        Index("ix_integrations_created_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The side whose supplier records it; "one-way" data flows from source to target.
    source_offering_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offerings.id", ondelete="RESTRICT")
    )
    target_offering_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offerings.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(20))
    standards: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text, default="")
