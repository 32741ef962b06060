"""API schemas of integrations and the landscape."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel

from ..common import LongText, ShortText

Kind = Literal["api", "file-transfer", "digikoppeling", "message-queue", "other"]
Status = Literal["planned", "active", "ended"]
Direction = Literal["one-way", "two-way"]


class IntegrationCreate(ApiModel):
    """A connection from one offering to another (the source's supplier or the operator)."""

    source_offering_id: uuid.UUID
    target_offering_id: uuid.UUID
    kind: Kind
    standards: list[ShortText] = Field(
        default_factory=list,
        max_length=50,
        description="Standards it implements, e.g. StUF-ZKN, ZGW API's",
        examples=[["ZGW API's"]],
    )
    status: Status = "active"
    direction: Direction = Field(description="one-way: data flows from source to target")
    description: LongText = ""


class IntegrationPatch(ApiModel):
    # Fields that cannot be removed are documented without null (null is a 400).
    kind: Kind | SkipJsonSchema[None] = None
    standards: list[ShortText] | None = Field(default=None, max_length=50)
    status: Status | SkipJsonSchema[None] = None
    direction: Direction | SkipJsonSchema[None] = None
    description: LongText | None = None


class IntegrationOut(ApiOutModel):
    id: uuid.UUID
    source_offering_id: uuid.UUID
    target_offering_id: uuid.UUID
    kind: Kind
    standards: list[str]
    status: Status
    direction: Direction
    description: str
    created_at: datetime
    updated_at: datetime


class LandscapeOffering(ApiOutModel):
    """An offering the municipality uses (a current usage, planned or active)."""

    offering_id: uuid.UUID
    offering_name: str
    supplier_id: uuid.UUID
    supplier_name: str
    facility_id: uuid.UUID
    facility_name: str
    version_id: uuid.UUID | None
    version: str | None
    usage_id: uuid.UUID
    usage_status: Literal["planned", "active"]


class Landscape(ApiOutModel):
    organisation_id: uuid.UUID
    offerings: list[LandscapeOffering]
    integrations: list[IntegrationOut] = Field(
        description="Integrations not ended between two offerings of the landscape"
    )
