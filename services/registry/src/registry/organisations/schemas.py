"""API schemas of organisations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema, field_validator
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel

from .. import identifiers
from ..common import Name, OptionalDate

OrganisationType = Literal["municipality", "supplier", "cooperation", "operator"]
Province = Literal[
    "Drenthe",
    "Flevoland",
    "Fryslân",
    "Gelderland",
    "Groningen",
    "Limburg",
    "Noord-Brabant",
    "Noord-Holland",
    "Overijssel",
    "Utrecht",
    "Zeeland",
    "Zuid-Holland",
]
MAX_MEMBERS = 400
# The documented forms (separators people paste are still cleaned away on input).
CbsCode = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^GM[0-9]{4}$"})]
Oin = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^[0-9]{20}$"})]
KvkNumber = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^[0-9]{8}$"})]


class _Identifiers(ApiModel):
    @field_validator("cbs_code", mode="before", check_fields=False)
    @classmethod
    def _cbs(cls, value: object) -> object:
        return identifiers.cbs_code(value) if isinstance(value, str) else value

    @field_validator("oin", mode="before", check_fields=False)
    @classmethod
    def _oin(cls, value: object) -> object:
        return identifiers.oin(value) if isinstance(value, str) else value

    @field_validator("kvk_number", mode="before", check_fields=False)
    @classmethod
    def _kvk(cls, value: object) -> object:
        return identifiers.kvk_number(value) if isinstance(value, str) else value


class OrganisationCreate(_Identifiers):
    """A new organisation. Municipalities need a CBS code, suppliers a KvK number, the
    operator an OIN; only cooperations have members (municipalities)."""

    type: OrganisationType
    name: Name
    cbs_code: CbsCode | None = Field(default=None, examples=["GM0344"])
    oin: Oin | None = Field(default=None, examples=["00000001001234567000"])
    kvk_number: KvkNumber | None = Field(default=None, examples=["90000001"])
    province: Province | None = None
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_MEMBERS)


class OrganisationPatch(_Identifiers):
    """JSON merge patch of an organisation (its type never changes)."""

    name: Name | SkipJsonSchema[None] = None  # cannot be removed (null is a 400)
    cbs_code: CbsCode | None = None
    oin: Oin | None = None
    kvk_number: KvkNumber | None = None
    province: Province | None = None
    member_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_MEMBERS)


class OrganisationOut(ApiOutModel):
    id: uuid.UUID
    type: OrganisationType
    name: str
    cbs_code: str | None
    oin: str | None
    kvk_number: str | None
    province: str | None
    member_ids: list[uuid.UUID]
    ended_on: OptionalDate = Field(
        description="Last day of a municipality ended by a merger (null while it exists)"
    )
    successor_id: uuid.UUID | None = Field(
        description="The municipality that continues it after a merger"
    )
    created_at: datetime
    updated_at: datetime


class JoinOption(ApiOutModel):
    """A collective facility a municipality could join instead of renewing a contract."""

    facility_id: uuid.UUID
    slug: str
    name: str
    stage: str


class OrganisationRadarItem(ApiOutModel):
    usage_id: uuid.UUID
    facility_id: uuid.UUID
    facility_name: str
    theme: str
    offering_id: uuid.UUID | None
    contract_end_date: date
    notice_period_months: int
    notice_deadline: date = Field(description="Last day to give notice")
    notice_deadline_passed: bool
    alternatives: list[JoinOption]
