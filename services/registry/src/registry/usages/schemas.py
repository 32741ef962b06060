"""API schemas of usages and the contract-expiry radar."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel, JsonInteger

from ..common import OptionalDate, OptionalEuro

UsageStatus = Literal["planned", "active", "ended"]
ValueBand = Literal["under-50k", "50k-215k", "215k-750k", "750k-5m", "over-5m"]


class UsageCreate(ApiModel):
    municipality_id: uuid.UUID
    facility_id: uuid.UUID
    offering_id: uuid.UUID | None = None
    version_id: uuid.UUID | None = None
    status: UsageStatus = "active"
    start_date: OptionalDate = None
    contract_end_date: OptionalDate = None
    notice_period_months: Annotated[int | None, JsonInteger] = Field(default=None, ge=0, le=60)
    contract_value_band: ValueBand | None = Field(
        default=None, description="Contract value band in euro (EU tender thresholds)"
    )
    annual_cost: OptionalEuro = Field(
        default=None, description="What the municipality pays per year under it, in euro"
    )


class UsagePatch(ApiModel):
    offering_id: uuid.UUID | None = None
    version_id: uuid.UUID | None = None
    status: UsageStatus | SkipJsonSchema[None] = None  # cannot be removed (null is a 400)
    start_date: OptionalDate = None
    contract_end_date: OptionalDate = None
    notice_period_months: Annotated[int | None, JsonInteger] = Field(default=None, ge=0, le=60)
    contract_value_band: ValueBand | None = None
    annual_cost: OptionalEuro = None


class UsageOut(ApiOutModel):
    id: uuid.UUID
    municipality_id: uuid.UUID
    facility_id: uuid.UUID
    offering_id: uuid.UUID | None
    version_id: uuid.UUID | None
    inherited_from_id: uuid.UUID | None = Field(
        description="The municipality that concluded the contract, when a merger moved it "
        "to this one; null for the municipality's own contracts"
    )
    status: UsageStatus
    start_date: OptionalDate
    contract_end_date: OptionalDate
    notice_period_months: int | None
    contract_value_band: ValueBand | None
    annual_cost: OptionalEuro = Field(default=None, description="Per year, in euro")
    contract_details_shown: bool = Field(
        default=True,
        description="False when the caller may not see this contract's details: then "
        "versionId, contractEndDate, noticePeriodMonths, contractValueBand and annualCost "
        "are null (not unknown; the version run would tell the vulnerability exposure). They are shown to the municipality's own staff, the operator and "
        "callers with registry:contracts.",
    )
    created_at: datetime
    updated_at: datetime


class RadarItem(ApiOutModel):
    """A municipality whose current contract ends inside the window: a candidate to join."""

    municipality_id: uuid.UUID
    municipality_name: str
    cbs_code: str | None
    province: str | None
    usage_id: uuid.UUID
    current_facility_id: uuid.UUID
    current_facility_name: str
    offering_id: uuid.UUID | None
    contract_end_date: date
    notice_period_months: int
    notice_deadline: date = Field(description="Last day to give notice on the current contract")
    notice_deadline_passed: bool = Field(
        description="The notice deadline lies before the reference date"
    )


class UsageImportReport(ApiOutModel):
    """What a CSV import of usages did: in a dry run nothing is stored (``usages`` empty)."""

    dry_run: bool = Field(description="Only validated; nothing stored")
    row_count: int = Field(description="Data rows in the file (every one valid)")
    usages: list[UsageOut] = Field(description="The usages created, in the file's order")
