"""Tender and lot tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Numeric, Text, UniqueConstraint
from sqlmodel import Field

from servicekit.clock import UtcDateTime

from ..db import Base


class Tender(Base, table=True):
    __tablename__ = "tenders"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    facility_id: uuid.UUID = Field(index=True)
    facility_name: str = Field(max_length=300)
    lead_party_id: uuid.UUID
    lead_party_oin: str = Field(max_length=20, index=True)
    lead_party_name: str = Field(max_length=300)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    procedure: str = Field(max_length=40)
    estimated_value: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    currency: str = Field(default="EUR", max_length=3)
    enrollment_opens_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    enrollment_closes_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    planned_start_date: date
    contract_duration_months: int
    status: str = Field(default="draft", max_length=40, index=True)
    cancellation_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = Field(default=1)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Lot(Base, table=True):
    __tablename__ = "lots"
    __table_args__ = (UniqueConstraint("tender_id", "number", name="uq_lots_tender_number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tender_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("tenders.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    number: int
    title: str = Field(max_length=300)
    unit: str = Field(max_length=100)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    estimated_value: Decimal | None = Field(
        default=None, sa_column=Column(Numeric(16, 2), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
