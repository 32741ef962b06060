"""API schemas of initiatives, support pledges, pilot participants and impact analyses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from servicekit.schemas import ApiModel, ApiOutModel

from ..common import Euro, LongText, OptionalEuro
from ..facilities.schemas import FacilityDescription, Kind, Slug, Stage, Theme

PledgeKind = Literal["interest", "pilot", "co-fund"]
# The stages in which a facility is open to support (models.OPEN_STAGES).
InitiativeStage = Literal["initiative", "pilot", "impact-analysis"]
Outcome = Literal["positive", "conditional", "negative"]


class InitiativeCreate(FacilityDescription):
    """A proposal for a new collective facility; it starts in stage `initiative`."""

    slug: Slug = Field(examples=["samen-zaakgericht-werken"])
    theme: Theme = Field(examples=["zaakgericht-werken"])
    proposed_by_id: uuid.UUID = Field(
        description="The proposing municipality or cooperation; the caller must be its staff"
    )


class OrganisationRef(ApiOutModel):
    id: uuid.UUID
    name: str
    type: str
    province: str | None = None


class ProvinceSupport(ApiOutModel):
    province: str | None = Field(description="null for municipalities without a province")
    pledges: int


class Support(ApiOutModel):
    pledges: int = Field(description="Municipalities pledging support of any kind")
    interest: int
    pilot: int = Field(description="Municipalities willing to pilot")
    co_fund: int = Field(description="Municipalities willing to co-fund")
    co_fund_amount: Euro = Field(description="Sum of the co-funding amounts pledged, euro")
    provinces: list[ProvinceSupport]
    inhabitants_covered: int = Field(
        description="Inhabitants of the supporting municipalities that have a loaded "
        "population figure (latest year each)"
    )
    supporters_without_population: int = Field(
        description="Supporting municipalities without a population figure (not counted "
        "in inhabitantsCovered, never estimated)"
    )


class InitiativeOut(ApiOutModel):
    facility_id: uuid.UUID
    slug: str
    name: str
    description: str
    kind: Kind
    theme: str
    stage: Stage
    proposed_by: OrganisationRef | None = Field(
        default=None, description="null for facilities the operator entered itself"
    )
    proposed_at: datetime | None = None
    support: Support
    pilot_participants: int
    impact_analysis_outcome: Outcome | None = Field(
        default=None, description="Outcome of the latest recorded impact analysis"
    )
    rank: int = Field(description="Position when ranked by support (1 = most)")


class PledgeCreate(ApiModel):
    municipality_id: uuid.UUID = Field(description="The caller must be its staff")
    kind: PledgeKind
    amount: OptionalEuro = Field(
        default=None, description="Euro the municipality is willing to contribute; co-fund only"
    )
    note: LongText = ""


class PledgeOut(ApiOutModel):
    id: uuid.UUID
    facility_id: uuid.UUID
    municipality: OrganisationRef
    kind: PledgeKind
    amount: OptionalEuro = None
    note: str
    created_at: datetime
