"""HTTP for a facility's pilot participants and impact analyses."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request, Response

from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    listed_response,
    page_response,
)
from servicekit.routes import Routes

from ..auth import Reader, Writer
from ..common import FacilityId
from . import service
from .schemas import ImpactAnalysisCreate, ImpactAnalysisOut, ParticipantCreate, ParticipantOut

router = json_router("initiatives")


@router.get(
    "/v1/facilities/{facilityId}/pilot-participants",
    operation_id="listPilotParticipants",
    summary="Municipalities taking part in a facility's pilot",
    response_model=Page[ParticipantOut],
)
async def list_participants(
    request: Request,
    session: SessionDep,
    _principal: Reader,
    facility_id: FacilityId,
    params: PageDep,
) -> Response:
    items, total = await service.list_participants(
        session, facility_id, params.offset, params.page_size
    )
    return page_response(request, items, total, params)


Routes(
    router, "/v1/facilities/{facilityId}/pilot-participants", ParticipantOut, facilityId=FacilityId
).create(
    service.join,
    ParticipantCreate,
    "joinPilot",
    "Take part in a facility's pilot (staff of the municipality; stage pilot)",
    caller=Writer,
)
Routes(
    router,
    "/v1/facilities/{facilityId}/pilot-participants/{participantId}",
    ParticipantOut,
    facilityId=FacilityId,
    participantId=Annotated[uuid.UUID, Path(alias="participantId")],
).delete(
    service.leave,
    "leavePilot",
    "Leave a facility's pilot (staff of the municipality)",
    caller=Writer,
    errors=(),
    conditional=False,
)


@router.get(
    "/v1/facilities/{facilityId}/impact-analyses",
    operation_id="listImpactAnalyses",
    summary="A facility's recorded impact analyses, oldest first (the latest one counts)",
    response_model=Page[ImpactAnalysisOut],
)
async def list_analyses(
    request: Request,
    session: SessionDep,
    _principal: Reader,
    facility_id: FacilityId,
    params: PageDep,
) -> Response:
    items = await service.list_analyses(session, facility_id)
    return listed_response(request, items, params)


Routes(
    router, "/v1/facilities/{facilityId}/impact-analyses", ImpactAnalysisOut, facilityId=FacilityId
).create(
    service.record_analysis,
    ImpactAnalysisCreate,
    "recordImpactAnalysis",
    "Record an impact analysis and its outcome (platform operator); a positive or "
    "conditional outcome lets the facility move to implementation",
    caller=Writer,
)
