"""API schemas of offerings and their versions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel, IsoDate

from ..common import LongText, Name, OptionalDate, ShortText, Url

PriceModel = Literal["free", "fixed", "subscription", "per-inhabitant", "per-user", "usage-based"]
VersionLabel = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^\S+$")
]


class OfferingCreate(ApiModel):
    """A supplier's product for a facility. ``supplierId`` defaults to the caller's
    organisation (the token's KvK number)."""

    supplier_id: uuid.UUID | None = None
    facility_id: uuid.UUID
    name: Name
    description: LongText = ""
    product_url: Url | None = None
    price_model: PriceModel
    standards: list[ShortText] = Field(default_factory=list, max_length=50)
    certifications: list[ShortText] = Field(default_factory=list, max_length=50)


class OfferingPatch(ApiModel):
    # Fields that cannot be removed are documented without null (null is a 400).
    name: Name | SkipJsonSchema[None] = None
    description: LongText | None = None
    product_url: Url | None = None
    price_model: PriceModel | SkipJsonSchema[None] = None
    standards: list[ShortText] | None = Field(default=None, max_length=50)
    certifications: list[ShortText] | None = Field(default=None, max_length=50)


class OfferingOut(ApiOutModel):
    id: uuid.UUID
    supplier_id: uuid.UUID
    facility_id: uuid.UUID
    name: str
    description: str
    product_url: str | None
    price_model: PriceModel
    standards: list[str]
    certifications: list[str]
    created_at: datetime
    updated_at: datetime


class VersionCreate(ApiModel):
    version: VersionLabel = Field(examples=["2.4.0"])
    release_date: IsoDate
    end_of_support_date: OptionalDate = None
    standards: list[ShortText] = Field(default_factory=list, max_length=50)
    notes: LongText = ""


class VersionPatch(ApiModel):
    release_date: IsoDate | SkipJsonSchema[None] = None  # cannot be removed (null is a 400)
    end_of_support_date: OptionalDate = None
    standards: list[ShortText] | None = Field(default=None, max_length=50)
    notes: LongText | None = None


class VersionOut(ApiOutModel):
    id: uuid.UUID
    offering_id: uuid.UUID
    version: str
    release_date: date
    end_of_support_date: OptionalDate
    standards: list[str]
    notes: str
    created_at: datetime
    updated_at: datetime
