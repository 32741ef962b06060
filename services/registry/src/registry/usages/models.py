"""Usages: which municipality uses which facility (or offering) under which contract."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Model, Revised

STATUSES = ("planned", "active", "ended")
VALUE_BANDS = ("under-50k", "50k-215k", "215k-750k", "750k-5m", "over-5m")
ACTIVE_OWN = "status = 'active' AND inherited_from_id IS NULL"


class Usage(Revised, Model):
    __tablename__ = "usages"
    __table_args__ = (
        # At most one active usage per municipality and facility (a partial unique index
        # works the same on SQLite and PostgreSQL); planned follow-ups beside it must not
        # overlap it in time, which the service checks. Contracts inherited in a merger
        # run on beside the successor's own until they end (the service keeps the rule
        # among the contracts of each predecessor).
        Index(
            "uq_usages_active",
            "municipality_id",
            "facility_id",
            unique=True,
            sqlite_where=text(ACTIVE_OWN),
            postgresql_where=text(ACTIVE_OWN),
        ),
        Index(
            "ix_usages_current",
            "municipality_id",
            "facility_id",
            sqlite_where=text("status != 'ended'"),
            postgresql_where=text("status != 'ended'"),
            postgresql_include=["id", "offering_id", "notice_period_months"],
        ),
        # Lists filtered by facility (and status) or municipality walk these in page
        # order (created_at, id).
        Index("ix_usages_facility_status_created", "facility_id", "status", "created_at", "id"),
        Index("ix_usages_contract_end", "contract_end_date"),
        Index("ix_usages_municipality_created", "municipality_id", "created_at", "id"),
        Index("ix_usages_created_id", "created_at", "id"),
        Index(
            "ix_usages_current_facility_end",
            "facility_id",
            "contract_end_date",
            sqlite_where=text("status != 'ended'"),
            postgresql_where=text("status != 'ended'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    municipality_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="RESTRICT"))
    offering_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("offerings.id", ondelete="RESTRICT"), index=True
    )
    version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("offering_versions.id", ondelete="RESTRICT"), index=True
    )
    # The municipality that concluded the contract, when a merger moved it here.
    inherited_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(String(10))
    start_date: Mapped[date | None]
    contract_end_date: Mapped[date | None]
    notice_period_months: Mapped[int | None]
    contract_value_band: Mapped[str | None] = mapped_column(String(20))
    # What the municipality pays per year under this contract, in euro (optional).
    annual_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
