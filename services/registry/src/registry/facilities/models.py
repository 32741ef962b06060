"""Collective facilities (collectieve voorzieningen) and their lifecycle history."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model, Revised

STAGES = ("initiative", "pilot", "impact-analysis", "implementation", "operational", "retired")
KINDS = ("infrastructure", "application", "service", "standard", "agreement")


class Facility(Revised, Model):
    __tablename__ = "facilities"
    __table_args__ = (
        Index("ix_facilities_theme", "theme"),
        Index("ix_facilities_kind", "kind"),
        Index("ix_facilities_name", "name"),
        Index("ix_facilities_name_id", "name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))
    theme: Mapped[str] = mapped_column(String(100))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    links: Mapped[list[dict[str, str]]] = mapped_column(default=list)
    standards: Mapped[list[str]] = mapped_column(default=list)
    stage: Mapped[str] = mapped_column(String(20), default="initiative")


class StageTransition(Model):
    """One recorded lifecycle move of a facility (append-only)."""

    __tablename__ = "facility_stage_transitions"
    __table_args__ = (Index("ix_stage_transitions_facility", "facility_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    actor_org: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    trace_id: Mapped[str | None] = mapped_column(String(32))
