"""Demand aggregation schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from servicekit.schemas import ApiOutModel

from ..schemas import MoneyOut

# A group of fewer municipalities tells one's volume: to anyone when it is alone, and to
# either of two (its own subtracted). Enrollments are the municipality's own business
# (the enrollment list and feed hide them too), so such figures stay with the lead party.
MIN_GROUP = 3


class LotDemand(ApiOutModel):
    lot_id: uuid.UUID
    number: int
    title: str
    unit: str
    participants: int | None = Field(
        description="Municipalities enrolled in this lot; null when withheld"
    )
    total_volume: int | None = Field(description="Their volumes together; null when withheld")
    estimated_value: MoneyOut = Field(description="The lot's share of the tender value")
    withheld: bool = Field(
        description="Participants and volume left out: fewer than 3 municipalities enrolled "
        "in the lot, so the figures would tell one municipality's volume (the tender's lead "
        "party sees them)"
    )


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
    provinces: list[ProvinceDemand] = Field(
        description="Per province; only for the tender's lead party (empty for others)"
    )
    breakdown: Literal["full", "lot-totals"] = Field(
        description="`full` for the tender's lead party; `lot-totals` for other readers: no "
        "provinces, and lots with fewer than 3 participants withheld"
    )
    withheld: bool = Field(description="Whether any figure is left out of this answer")
    withheld_explanation: str | None = Field(description="What is left out, and why")
    generated_at: datetime
