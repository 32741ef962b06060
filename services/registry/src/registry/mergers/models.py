"""Municipal mergers (herindelingen): which municipalities continued in which, from when."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model


class MunicipalityMerger(Model):
    __tablename__ = "municipality_mergers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    successor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    predecessor_ids: Mapped[list[str]] = mapped_column(JSON)
    effective_date: Mapped[date]
    # What moved (ids per kind), as the answer shows it.
    moved: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
