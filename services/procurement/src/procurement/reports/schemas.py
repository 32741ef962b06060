"""Demand aggregation schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from servicekit.schemas import ApiOutModel

from ..schemas import MoneyOut


class LotDemand(ApiOutModel):
    lot_id: uuid.UUID
    number: int
    title: str
    unit: str
    participants: int = Field(description="Municipalities enrolled in this lot")
    total_volume: int
    estimated_value: MoneyOut = Field(description="The lot's share of the tender value")


class ProvinceLotDemand(ApiOutModel):
    lot_id: uuid.UUID
    number: int
    participants: int
    volume: int
    estimated_value_share: MoneyOut = Field(
        description="The lot's value times this province's share of the lot's volume"
    )


class ProvinceDemand(ApiOutModel):
    province: str | None = Field(description="Null when the registry did not say")
    participants: int
    estimated_value_share: MoneyOut
    lots: list[ProvinceLotDemand]


class Demand(ApiOutModel):
    tender_id: uuid.UUID
    status: str
    participants: int = Field(description="Enrolled municipalities (withdrawals excluded)")
    estimated_value: MoneyOut
    lots: list[LotDemand]
    provinces: list[ProvinceDemand]
    generated_at: datetime
