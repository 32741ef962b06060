"""Pilots and impact analyses: who takes part in a facility's pilot, and what the impact
analysis concluded before the facility may move to implementation."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model

OUTCOMES = ("positive", "conditional", "negative")


class PilotParticipation(Model):
    """A municipality taking part in a facility's pilot."""

    __tablename__ = "pilot_participations"
    __table_args__ = (
        UniqueConstraint(
            "facility_id", "municipality_id", name="uq_pilot_participations_facility_municipality"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    municipality_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImpactAnalysis(Model):
    """A recorded impact analysis and its outcome (append-only; the latest one counts)."""

    __tablename__ = "impact_analyses"
    __table_args__ = (Index("ix_impact_analyses_facility", "facility_id", "recorded_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(12))
    summary: Mapped[str] = mapped_column(Text)
    completed_on: Mapped[date]
    document_url: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
