"""API schemas of webhook subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel, JsonBoolean

from ..common import Url

EventTypePrefix = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=200,
        pattern=r"^nl\.samen\.registry(\.[a-z-]+)*\.?$",
    ),
]


class SubscriptionCreate(ApiModel):
    url: Url = Field(description="Receiver; https (plain http only outside production)")
    event_types: list[EventTypePrefix] = Field(
        default_factory=list,
        max_length=20,
        description="Event type prefixes to deliver (e.g. `nl.samen.registry.facility.`); "
        "empty means all",
    )


class SubscriptionPatch(ApiModel):
    # url and active cannot be removed: documented without null (null is a 400).
    url: Url | SkipJsonSchema[None] = None
    event_types: list[EventTypePrefix] | None = Field(default=None, max_length=20)
    active: Annotated[bool | SkipJsonSchema[None], JsonBoolean] = None


class SubscriptionOut(ApiOutModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    active: bool
    owner_organisation: str | None
    cursor: int = Field(description="Sequence of the last event delivered (or skipped)")
    failure_count: int = Field(description="Failed attempts since the last success")
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="Signing secret (Standard Webhooks `whsec_…`); shown only in this response"
    )


class DeliveryOut(ApiOutModel):
    id: uuid.UUID
    event_id: str
    event_sequence: int
    event_type: str
    attempt: int
    at: datetime
    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: int
