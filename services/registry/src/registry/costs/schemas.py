"""API schemas of population figures and cost summaries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from servicekit.schemas import ApiModel, ApiOutModel, JsonInteger

from ..common import Euro, Name, OptionalEuro
from ..usages.schemas import UsageStatus

Year = Field(ge=1900, le=2100, description="The year the figure describes")


class PopulationLine(ApiModel):
    cbs_code: str = Field(pattern=r"^GM\d{4}$", examples=["GM0344"])
    inhabitants: Annotated[int, JsonInteger] = Field(ge=1, le=100_000_000)


class PopulationLoad(ApiModel):
    """One year's figures from one source; replaces that year's figures of the
    municipalities named (others keep theirs)."""

    year: Annotated[int, JsonInteger] = Year
    source: Name = Field(examples=["CBS StatLine 03759ned, 1 januari 2024"])
    figures: list[PopulationLine] = Field(min_length=1, max_length=1000)


class PopulationLoadOut(ApiOutModel):
    year: int
    source: str
    loaded: int = Field(description="Figures stored")


class PopulationRow(ApiModel):
    """One row of a population CSV file, checked as the JSON figures are."""

    code: str = Field(pattern=r"^GM\d{4}$")
    inhabitants: Annotated[int, JsonInteger] = Field(ge=1, le=100_000_000)
    year: Annotated[int, JsonInteger] = Year
    source: Name


class PopulationImportOut(ApiOutModel):
    """What a CSV file stored (or, in a dry run, would store): one load per year and
    source in it."""

    dry_run: bool = Field(description="true: checked only, nothing stored")
    rows: int = Field(description="Data rows in the file (the header not counted)")
    stored: int = Field(description="Figures stored; 0 in a dry run")
    loads: list[PopulationLoadOut] = Field(
        description="Per year and source, the figures stored (or that would be)"
    )


class PopulationFigureOut(ApiOutModel):
    municipality_id: uuid.UUID
    municipality_name: str
    cbs_code: str | None
    year: int
    inhabitants: int
    source: str
    loaded_at: datetime


class Population(ApiOutModel):
    """The figure a per-inhabitant cost is based on. For a municipality that succeeded
    others in a merger: its own figure of a year on or after the merger (1 January on or
    after the effective date), or the sum of its own and its predecessors' figures of one
    earlier year (`source` then names each source once)."""

    inhabitants: int
    year: int
    source: str


class UsageCost(ApiOutModel):
    usage_id: uuid.UUID
    facility_id: uuid.UUID
    facility_name: str
    status: UsageStatus
    annual_cost: OptionalEuro = None


class MunicipalityCosts(ApiOutModel):
    """A municipality's active usages and what they cost per year."""

    municipality_id: uuid.UUID
    municipality_name: str
    currency: str = "EUR"
    annual_cost_total: Euro = Field(description="Sum of the known annual costs")
    usages_with_cost: int
    usages_without_cost: int = Field(description="Active usages whose cost is not recorded")
    population: Population | None = Field(
        default=None,
        description="The latest loaded figure that counts all the municipality's "
        "inhabitants; absent when none does (after a merger: see Population)",
    )
    cost_per_inhabitant: OptionalEuro = Field(
        default=None, description="Total / inhabitants; absent without a population figure"
    )
    usages: list[UsageCost]


class FacilityCosts(ApiOutModel):
    """What the municipalities using a facility pay for it per year."""

    facility_id: uuid.UUID
    facility_name: str
    currency: str = "EUR"
    annual_cost_total: Euro
    usages_with_cost: int = Field(description="Active usages whose cost is recorded")
    usages_without_cost: int = Field(description="Active usages whose cost is not recorded")
    inhabitants: int | None = Field(
        default=None,
        description="Inhabitants of the municipalities whose cost is known; absent when "
        "any of them has no population figure (after a merger: one counting the "
        "predecessors' inhabitants too)",
    )
    cost_per_inhabitant: OptionalEuro = Field(
        default=None, description="Total / inhabitants; absent when inhabitants is"
    )
