"""Schemas shared by several resources."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, StringConstraints, WithJsonSchema

from servicekit.schemas import FILLED_TEXT, LINE, TEXT, ApiModel, ApiOutModel, JsonNumber

# Texts as people type them: a line is trimmed and must hold more than whitespace; none
# may hold control characters (a description or reason may hold line breaks and tabs).
_FILLED = {"strip_whitespace": True, "min_length": 1}
Title = Annotated[str, StringConstraints(**_FILLED, max_length=300, pattern=LINE)]
Unit = Annotated[str, StringConstraints(**_FILLED, max_length=100, pattern=LINE)]
PersonText = Annotated[str, StringConstraints(**_FILLED, max_length=200, pattern=LINE)]
Reason = Annotated[str, StringConstraints(**_FILLED, max_length=2000, pattern=FILLED_TEXT)]
Description = Annotated[str, StringConstraints(max_length=10000, pattern=TEXT)]

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
