"""API schemas of mergers applied to enrollments."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from servicekit.schemas import ApiModel, ApiOutModel


class MergerApply(ApiModel):
    merger_id: uuid.UUID = Field(description="The merger's id in the registry")


class AppliedMergerOut(ApiOutModel):
    id: uuid.UUID = Field(description="The merger's id in the registry")
    dry_run: bool
    successor_oin: str | None = Field(description="Null when it has none (nothing moved)")
    predecessor_oins: list[str]
    effective_date: date
    transferred_enrollment_ids: list[uuid.UUID] = Field(
        description="Enrollments now the successor's (it had none in that tender)"
    )
    combined_enrollment_ids: list[uuid.UUID] = Field(
        description="Enrollments folded into the successor's in the same tender (volumes "
        "added per lot, the earlier start date); their status is now `merged`"
    )
    applied_by: str | None = Field(description="Null in a preview")
    applied_at: datetime | None
