"""API schemas of notice alerts."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from servicekit.schemas import ApiOutModel


class NoticeAlertOut(ApiOutModel):
    usage_id: uuid.UUID
    threshold_days: int = Field(description="180, 90 or 30 days before the deadline")
    notice_deadline: date
    announced: bool = Field(
        description="An event was published; false for a wider threshold passed over "
        "because the contract was first seen inside a narrower one"
    )
    at: datetime
