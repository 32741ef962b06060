"""API schemas of municipal mergers."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from servicekit.schemas import ApiModel, ApiOutModel, IsoDate

MAX_PREDECESSORS = 20


class MergerCreate(ApiModel):
    """Municipalities that continue, from ``effectiveDate``, as ``successorId`` (a new
    municipality registered beforehand, or one of the existing ones)."""

    predecessor_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_PREDECESSORS)
    successor_id: uuid.UUID
    effective_date: IsoDate = Field(
        description="The first day of the successor's own existence (not in the future)"
    )


class MergerMoves(ApiOutModel):
    """What passed from the predecessors to the successor, by id."""

    usage_ids: list[uuid.UUID] = Field(description="Usages now the successor's (inherited)")
    pledge_ids: list[uuid.UUID] = Field(description="Pledges now the successor's")
    combined_pledge_ids: list[uuid.UUID] = Field(
        description="Pledges folded into the successor's pledge for the same facility "
        "(strongest kind, amounts added) and removed"
    )
    pilot_participation_ids: list[uuid.UUID]
    combined_pilot_participation_ids: list[uuid.UUID] = Field(
        description="Pilot participations removed because the successor takes part already"
    )
    cooperation_ids: list[uuid.UUID] = Field(
        description="Cooperations in which the successor took the predecessors' place"
    )


class MergerOut(ApiOutModel):
    id: uuid.UUID | None = Field(description="Null in a preview (dryRun)")
    dry_run: bool
    predecessor_ids: list[uuid.UUID]
    successor_id: uuid.UUID
    effective_date: date
    ended_on: date = Field(description="The predecessors' last day (effectiveDate - 1)")
    moves: MergerMoves
    recorded_by: str | None = Field(description="Who recorded it; null in a preview")
    recorded_at: datetime | None
