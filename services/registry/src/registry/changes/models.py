"""Append-only history of every change (who, when, what, trace id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model


class HistoryEntry(Model):
    __tablename__ = "history"
    __table_args__ = (Index("ix_history_entity", "entity_type", "entity_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID]
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    actor_org: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
