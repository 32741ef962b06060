"""HTTP for /v1/initiatives (proposals, ranked by support) and support pledges."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, Request, Response

from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    json_response,
    no_content,
    page_response,
)

from ..auth import PublicReader, Reader, Writer
from ..common import FacilityId
from . import service
from .schemas import InitiativeCreate, InitiativeOut, PledgeCreate, PledgeOut

router = json_router("initiatives")

OpenStage = Annotated[
    str | None,
    Query(pattern="^(initiative|pilot|impact-analysis)$", description="Only this stage"),
]


@router.get(
    "/v1/initiatives",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="listInitiatives",
    summary="Facilities being shaped (initiative, pilot, impact analysis), ranked by support",
    description="Ranked by the number of supporting municipalities, then the inhabitants "
    "they cover, then name; each with its support by kind and province.",
    response_model=Page[InitiativeOut],
)
async def list_initiatives(
    request: Request,
    session: SessionDep,
    _principal: PublicReader,
    params: PageDep,
    stage: OpenStage = None,
) -> Response:
    items, total = await service.list_initiatives(session, stage, params.offset, params.page_size)
    return page_response(request, items, total, params)


@router.post(
    "/v1/initiatives",
    operation_id="proposeInitiative",
    summary="Propose an initiative: a new facility in stage initiative (a municipality or "
    "cooperation, for itself)",
    status_code=201,
    response_model=InitiativeOut,
    responses=error_responses(409, 422),
)
async def propose_initiative(
    request: Request,
    session: SessionDep,
    principal: Writer,
    body: InitiativeCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.propose(session, principal, body),
        lambda out: f"/v1/initiatives/{out.facility_id}",
    )


@router.get(
    "/v1/initiatives/{facilityId}",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="getInitiative",
    summary="A facility's proposer, support, pilot and impact-analysis outcome",
    response_model=InitiativeOut,
)
async def get_initiative(
    session: SessionDep,
    _principal: PublicReader,
    facility_id: FacilityId,
) -> Response:
    return json_response(await service.get_initiative(session, facility_id))


@router.get(
    "/v1/facilities/{facilityId}/pledges",
    operation_id="listPledges",
    summary="Municipalities supporting a facility",
    response_model=Page[PledgeOut],
)
async def list_pledges(
    request: Request,
    session: SessionDep,
    _principal: Reader,
    facility_id: FacilityId,
    params: PageDep,
) -> Response:
    items, total = await service.list_pledges(session, facility_id, params.offset, params.page_size)
    return page_response(request, items, total, params)


@router.post(
    "/v1/facilities/{facilityId}/pledges",
    operation_id="pledgeSupport",
    summary="Pledge a municipality's support: interest, willing to pilot, or willing to "
    "co-fund with an amount (staff of the municipality)",
    status_code=201,
    response_model=PledgeOut,
    responses=error_responses(409, 422),
)
async def pledge_support(
    request: Request,
    session: SessionDep,
    principal: Writer,
    facility_id: FacilityId,
    body: PledgeCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.pledge(session, principal, facility_id, body),
        lambda out: f"/v1/facilities/{facility_id}/pledges/{out.id}",
    )


@router.delete(
    "/v1/facilities/{facilityId}/pledges/{pledgeId}",
    operation_id="withdrawPledge",
    summary="Withdraw a pledge (staff of the municipality)",
    status_code=204,
)
async def withdraw_pledge(
    session: SessionDep,
    principal: Writer,
    facility_id: FacilityId,
    pledge_id: Annotated[uuid.UUID, Path(alias="pledgeId")],
) -> Response:
    await service.withdraw_pledge(session, principal, facility_id, pledge_id)
    return no_content()
