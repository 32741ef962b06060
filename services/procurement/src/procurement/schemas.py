"""Schemas shared by several resources."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, WithJsonSchema

from servicekit.schemas import ApiModel, ApiOutModel, JsonNumber

# Amounts are exact decimals inside; JSON carries them as numbers (OCDS does too).
Amount = Annotated[
    Decimal,
    JsonNumber,
    Field(ge=0, max_digits=16, decimal_places=2, description="Amount in the currency"),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "maximum": 99999999999999.99,
            "description": "Amount in the currency (at most 2 decimals)",
        }
    ),
]


class Money(ApiModel):
    amount: Amount
    currency: Literal["EUR"] = Field(default="EUR", description="ISO 4217 currency; EUR only")


class MoneyOut(ApiOutModel):
    amount: Amount
    currency: str = "EUR"


class HistoryOut(ApiOutModel):
    """One recorded change (append-only)."""

    id: uuid.UUID
    entity: str = Field(description="tender, lot or enrollment")
    entity_id: uuid.UUID
    action: str
    from_status: str | None = None
    to_status: str | None = None
    reason: str | None = None
    actor_subject: str = Field(description="`sub` of the token that made the change")
    actor_org_id: str | None = None
    at: datetime
