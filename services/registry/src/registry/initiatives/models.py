"""Initiatives: who proposed a facility and who supports it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model

PLEDGE_KINDS = ("interest", "pilot", "co-fund")
# Support can be pledged while the facility is still being shaped.
OPEN_STAGES = ("initiative", "pilot", "impact-analysis")


class Initiative(Model):
    """A facility proposed by a municipality or cooperation (it starts in stage initiative)."""

    __tablename__ = "initiatives"

    facility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True
    )
    proposed_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    proposed_by_subject: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pledge(Model):
    """A municipality's support: interest, willing to pilot, or willing to co-fund."""

    __tablename__ = "pledges"
    __table_args__ = (
        UniqueConstraint("facility_id", "municipality_id", name="uq_pledges_facility_municipality"),
        Index("ix_pledges_municipality", "municipality_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    municipality_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
