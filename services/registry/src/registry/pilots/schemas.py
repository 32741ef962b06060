"""API schemas of pilot participants and impact analyses."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from servicekit.schemas import ApiModel, ApiOutModel

from ..common import LongText, Url
from ..initiatives.schemas import OrganisationRef, Outcome


class ParticipantCreate(ApiModel):
    municipality_id: uuid.UUID = Field(description="The caller must be its staff")


class ParticipantOut(ApiOutModel):
    id: uuid.UUID
    facility_id: uuid.UUID
    municipality: OrganisationRef
    created_at: datetime


class ImpactAnalysisCreate(ApiModel):
    outcome: Outcome = Field(
        description="positive or conditional allow the move to implementation; negative not"
    )
    summary: LongText = Field(min_length=1)
    completed_on: date
    document_url: Url | None = None


class ImpactAnalysisOut(ApiOutModel):
    id: uuid.UUID
    facility_id: uuid.UUID
    outcome: Outcome
    summary: str
    completed_on: date
    document_url: str | None = None
    recorded_by: str
    recorded_at: datetime
