"""Supplier offerings (aanbod) for a facility and their versions."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Model, Revised

PRICE_MODELS = ("free", "fixed", "subscription", "per-inhabitant", "per-user", "usage-based")


class Offering(Revised, Model):
    __tablename__ = "offerings"
    __table_args__ = (
        # Lists filtered by supplier or facility walk these in page order (name, id).
        Index("ix_offerings_supplier_name_id", "supplier_id", "name", "id"),
        Index("ix_offerings_facility_name_id", "facility_id", "name", "id"),
        Index("ix_offerings_name_id", "name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    supplier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    product_url: Mapped[str | None] = mapped_column(String(500))
    price_model: Mapped[str] = mapped_column(String(20))
    standards: Mapped[list[str]] = mapped_column(default=list)
    certifications: Mapped[list[str]] = mapped_column(default=list)


class OfferingVersion(Revised, Model):
    __tablename__ = "offering_versions"
    __table_args__ = (
        UniqueConstraint("offering_id", "version", name="uq_offering_versions_offering_version"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    offering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offerings.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(50))
    release_date: Mapped[date]
    end_of_support_date: Mapped[date | None]
    standards: Mapped[list[str]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
