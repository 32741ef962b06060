"""Tender and lot API schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel, IsoDate, IsoDateTime, JsonInteger

from ..schemas import Description, Money, MoneyOut, Reason, Title, Unit
from .models import Lot, Tender
from .terms import effective_status

Procedure = Literal["open", "restricted", "negotiated", "competitive-dialogue"]
TenderStatus = Literal[
    "draft",
    "open-for-enrollment",
    "enrollment-closed",
    "tendering",
    "awarded",
    "contracted",
    "cancelled",
]


class LotIn(ApiModel):
    title: Title = Field(examples=["Vaste aansluitingen"])
    unit: Unit = Field(description="Unit of volume, e.g. 'seat'", examples=["aansluiting"])
    description: Description = Field(default="", max_length=5000)
    estimated_value: Money | None = Field(
        default=None, description="The lot's share of the tender value; split evenly if absent"
    )


class TenderIn(ApiModel):
    facility_id: uuid.UUID = Field(description="Registry facility this tender procures")
    lead_party_id: uuid.UUID = Field(
        description="Registry organisation (cooperation or operator) acting as central "
        "purchasing body; the caller must be its staff"
    )
    title: Title = Field(examples=["Glasvezel 2027"])
    description: Description = ""
    procedure: Procedure
    estimated_value: Money
    enrollment_opens_at: IsoDateTime = Field(examples=["2027-01-04T00:00:00+01:00"])
    enrollment_closes_at: IsoDateTime = Field(examples=["2027-02-28T23:59:00+01:00"])
    planned_start_date: IsoDate = Field(
        description="Planned start of the joint contract", examples=["2027-07-01"]
    )
    contract_duration_months: Annotated[int, JsonInteger] = Field(ge=1, le=240, examples=[48])
    lots: list[LotIn] = Field(default_factory=list, max_length=100)


class TenderPatch(ApiModel):
    """JSON merge patch of a draft tender (If-Match required). No field can be removed:
    each is documented without null (null is a 400)."""

    # Constraints sit on the value type: pydantic cannot apply them to a plain union.
    title: Title | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    procedure: Procedure | SkipJsonSchema[None] = None
    estimated_value: Money | SkipJsonSchema[None] = None
    enrollment_opens_at: IsoDateTime | SkipJsonSchema[None] = None
    enrollment_closes_at: IsoDateTime | SkipJsonSchema[None] = None
    planned_start_date: IsoDate | SkipJsonSchema[None] = None
    contract_duration_months: Annotated[
        Annotated[int, Field(ge=1, le=240)] | SkipJsonSchema[None], JsonInteger
    ] = None


class TransitionIn(ApiModel):
    reason: Reason | None = None


class CancellationIn(ApiModel):
    reason: Reason


class LotOut(ApiOutModel):
    id: uuid.UUID
    tender_id: uuid.UUID
    number: int = Field(description="Lot number within the tender, from 1")
    title: str
    unit: str
    description: str
    estimated_value: MoneyOut | None = None


class Reference(ApiOutModel):
    id: uuid.UUID
    name: str


class PartyOut(Reference):
    oin: str


class TenderOut(ApiOutModel):
    id: uuid.UUID
    facility: Reference
    lead_party: PartyOut
    title: str
    description: str
    procedure: Procedure
    estimated_value: MoneyOut
    enrollment_opens_at: datetime
    enrollment_closes_at: datetime
    planned_start_date: date
    contract_duration_months: int
    status: TenderStatus = Field(
        description="Effective status: an open tender whose closing time passed is "
        "enrollment-closed"
    )
    cancellation_reason: str | None = None
    lots: list[LotOut]
    version: int
    created_at: datetime
    updated_at: datetime


def lot_out(lot: Lot) -> LotOut:
    value = lot.estimated_value
    return LotOut.from_row(lot, estimated_value=None if value is None else MoneyOut(amount=value))


def tender_out(tender: Tender, lots: list[Lot], now: datetime) -> TenderOut:
    return TenderOut.from_row(
        tender,
        facility=Reference(id=tender.facility_id, name=tender.facility_name),
        lead_party=PartyOut(
            id=tender.lead_party_id, name=tender.lead_party_name, oin=tender.lead_party_oin
        ),
        estimated_value=MoneyOut(amount=tender.estimated_value, currency=tender.currency),
        status=effective_status(tender, now),
        lots=[lot_out(lot) for lot in sorted(lots, key=lambda lot: lot.number)],
    )
