"""Disclosure API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from servicekit.schemas import ApiOutModel


class DisclosureOut(ApiOutModel):
    id: uuid.UUID
    client_id: str
    client_name: str
    channel: str = Field(description="token (ID/access token) or userinfo")
    attributes: list[str]
    acr: str
    at: datetime
