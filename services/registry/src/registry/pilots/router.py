"""HTTP for a facility's pilot participants and impact analyses."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request, Response

from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    listed_response,
    no_content,
    page_response,
)

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


@router.post(
    "/v1/facilities/{facilityId}/pilot-participants",
    operation_id="joinPilot",
    summary="Take part in a facility's pilot (staff of the municipality; stage pilot)",
    status_code=201,
    response_model=ParticipantOut,
    responses=error_responses(409, 422),
)
async def join_pilot(
    request: Request,
    session: SessionDep,
    principal: Writer,
    facility_id: FacilityId,
    body: ParticipantCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.join(session, principal, facility_id, body),
        lambda out: f"/v1/facilities/{facility_id}/pilot-participants/{out.id}",
    )


@router.delete(
    "/v1/facilities/{facilityId}/pilot-participants/{participantId}",
    operation_id="leavePilot",
    summary="Leave a facility's pilot (staff of the municipality)",
    status_code=204,
)
async def leave_pilot(
    session: SessionDep,
    principal: Writer,
    facility_id: FacilityId,
    participant_id: Annotated[uuid.UUID, Path(alias="participantId")],
) -> Response:
    await service.leave(session, principal, facility_id, participant_id)
    return no_content()


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


@router.post(
    "/v1/facilities/{facilityId}/impact-analyses",
    operation_id="recordImpactAnalysis",
    summary="Record an impact analysis and its outcome (platform operator); a positive or "
    "conditional outcome lets the facility move to implementation",
    status_code=201,
    response_model=ImpactAnalysisOut,
    responses=error_responses(409, 422),
)
async def record_analysis(
    request: Request,
    session: SessionDep,
    principal: Writer,
    facility_id: FacilityId,
    body: ImpactAnalysisCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.record_analysis(session, principal, facility_id, body),
        lambda out: f"/v1/facilities/{facility_id}/impact-analyses/{out.id}",
    )
