"""API schemas of the decisions-ahead view."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from servicekit.schemas import ApiOutModel

from ..tenders.schemas import TenderStatus


class CollectiveFacility(ApiOutModel):
    facility_id: uuid.UUID
    slug: str
    name: str
    stage: str


class TenderOption(ApiOutModel):
    """A joint tender (planned = draft, or open for enrollment) the municipality could join."""

    tender_id: uuid.UUID
    title: str
    status: TenderStatus
    facility_id: uuid.UUID
    facility_name: str
    enrollment_opens_at: datetime
    enrollment_closes_at: datetime
    planned_start_date: date


class DecisionAhead(ApiOutModel):
    """One contract whose notice deadline lies ahead, and what could replace it."""

    usage_id: uuid.UUID
    facility_id: uuid.UUID = Field(description="The facility the current contract is for")
    facility_name: str
    theme: str
    offering_id: uuid.UUID | None = None
    contract_end_date: date
    notice_period_months: int
    notice_deadline: date = Field(description="Last day to give notice on the current contract")
    notice_deadline_passed: bool
    collective_facilities: list[CollectiveFacility] = Field(
        description="Collective facilities of the same theme it could join instead (registry)"
    )
    tenders: list[TenderOption] = Field(
        description="Planned or open joint tenders for this facility or those alternatives"
    )
