"""Enrollment, its lot lines and its mandates (volmachten, immutable)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Text, UniqueConstraint, event
from sqlmodel import Field

from servicekit.clock import UtcDateTime

from ..db import Base


class Enrollment(Base, table=True):
    __tablename__ = "enrollments"
    # The guarantee behind "one enrollment per municipality per tender", whatever the
    # concurrency: the database refuses the second row.
    __table_args__ = (
        UniqueConstraint(
            "tender_id", "municipality_oin", name="uq_enrollments_tender_municipality"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tender_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("tenders.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    # The token's org_id (signed by identity) is authoritative; the registry details
    # below are filled when the registry answers (they may be missing after an outage).
    municipality_oin: str = Field(max_length=20)
    municipality_id: uuid.UUID | None = None
    municipality_name: str | None = Field(default=None, max_length=300)
    municipality_cbs_code: str | None = Field(default=None, max_length=6)
    province: str | None = Field(default=None, max_length=100)
    status: str = Field(default="enrolled", max_length=20)
    version: int = Field(default=1)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class EnrollmentLot(Base, table=True):
    __tablename__ = "enrollment_lots"
    __table_args__ = (UniqueConstraint("enrollment_id", "lot_id", name="uq_enrollment_lots"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    enrollment_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey("enrollments.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    lot_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("lots.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    expected_volume: int
    desired_start_date: date
    start_date_source: str = Field(max_length=40)
    start_date_explanation: str = Field(sa_column=Column(Text, nullable=False))


class Mandate(Base, table=True):
    """A volmacht as data: who signed, in which role, at which login level, for what.

    Rows are never updated or deleted; a change of enrollment adds a new mandate."""

    __tablename__ = "mandates"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    enrollment_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey("enrollments.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    tender_id: uuid.UUID
    municipality_oin: str = Field(max_length=20)
    lead_party_oin: str = Field(max_length=20)
    signer_name: str = Field(max_length=200)
    signer_role: str = Field(max_length=200)
    signer_subject: str = Field(max_length=255)
    signer_acr: str = Field(max_length=100)
    signed_date: date
    scope: str = Field(sa_column=Column(Text, nullable=False))  # JSON, see schemas.MandateScope
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


@event.listens_for(Mandate, "before_update")
@event.listens_for(Mandate, "before_delete")
def _mandates_are_immutable(*_args: Any) -> None:
    raise RuntimeError("mandates are immutable")
