"""API schemas of facilities and stage transitions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel

from ..common import LongText, Name, Reason, ShortText, Url

Kind = Literal["infrastructure", "application", "service", "standard", "agreement"]
Stage = Literal[
    "initiative", "pilot", "impact-analysis", "implementation", "operational", "retired"
]
Slug = Annotated[
    str,
    StringConstraints(min_length=2, max_length=100, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$"),
]
Theme = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=100, pattern=r"\S"
    ),
]


class WebLink(ApiModel):
    """A link to documentation or a product page."""

    title: ShortText
    url: Url


class FacilityDescription(ApiModel):
    """What describes a facility, whether the operator registers it or a municipality
    proposes it as an initiative."""

    slug: Slug = Field(examples=["ggi-netwerk"])
    name: Name
    description: LongText = ""
    kind: Kind
    theme: Theme = Field(examples=["connectivity"])


class FacilityCreate(FacilityDescription):
    provider_id: uuid.UUID | None = None
    links: list[WebLink] = Field(default_factory=list, max_length=20)
    standards: list[ShortText] = Field(default_factory=list, max_length=50)
    stage: Stage = Field(
        default="initiative",
        description="Starting stage; later moves go through stage transitions",
    )


class FacilityPatch(ApiModel):
    """JSON merge patch; the stage changes only through stage transitions."""

    # Fields that cannot be removed are documented without null (null is a 400).
    slug: Slug | SkipJsonSchema[None] = None
    name: Name | SkipJsonSchema[None] = None
    description: LongText | None = None
    kind: Kind | SkipJsonSchema[None] = None
    theme: Theme | SkipJsonSchema[None] = None
    provider_id: uuid.UUID | None = None
    links: list[WebLink] | None = Field(default=None, max_length=20)
    standards: list[ShortText] | None = Field(default=None, max_length=50)


class FacilityOut(ApiOutModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    kind: Kind
    theme: str
    provider_id: uuid.UUID | None
    links: list[WebLink]
    standards: list[str]
    stage: Stage
    created_at: datetime
    updated_at: datetime


class StageTransitionCreate(ApiModel):
    to_stage: Stage
    reason: Reason


class StageTransitionOut(ApiOutModel):
    id: uuid.UUID
    facility_id: uuid.UUID
    from_stage: Stage
    to_stage: Stage
    reason: str
    actor: str = Field(description="Token subject of who made the move (a pseudonym)")
    actor_organisation: str | None = Field(description="OIN of the actor's organisation")
    at: datetime
