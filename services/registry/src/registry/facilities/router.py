"""HTTP for /v1/facilities and their stage transitions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Path, Query, Request, Response

from servicekit.actor import Actor
from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.db import DatabaseDep, SessionDep
from servicekit.http import IfMatchDep, OptionalIfMatchDep, json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    json_response,
    no_content,
    page_response,
    tagged_response,
)

from ..auth import PublicReader, Reader, Writer, require_operator
from ..common import CachedPagesDep, FacilityId
from . import service
from .schemas import (
    FacilityCreate,
    FacilityOut,
    FacilityPatch,
    Kind,
    Stage,
    StageTransitionCreate,
    StageTransitionOut,
)

router = json_router("facilities")


@router.get(
    "/v1/facilities",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="listFacilities",
    summary="List collective facilities",
    response_model=Page[FacilityOut],
)
async def list_facilities(
    pages: CachedPagesDep,
    _principal: PublicReader,
    params: PageDep,
    slug: Annotated[str | None, Query(max_length=100, description="Exact slug")] = None,
    kind: Annotated[Kind | None, Query(description="Kind of facility")] = None,
    theme: Annotated[str | None, Query(max_length=100, description="Theme")] = None,
    stage: Annotated[Stage | None, Query(description="Lifecycle stage")] = None,
    provider_id: Annotated[
        uuid.UUID | None, Query(alias="providerId", description="Provider organisation")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Name or description contains")
    ] = None,
) -> Response:
    filters = service.FacilityFilter(
        slug=slug, kind=kind, theme=theme, stage=stage, provider_id=provider_id, q=q
    )
    return await pages.items(
        ("facilities", filters),
        params,
        lambda database: service.list_facilities(database, filters, params),
    )


@router.post(
    "/v1/facilities",
    operation_id="createFacility",
    summary="Register a collective facility (platform operator)",
    status_code=201,
    response_model=FacilityOut,
    responses=error_responses(409, 422),
)
async def create_facility(
    request: Request,
    session: SessionDep,
    principal: Writer,
    body: FacilityCreate,
) -> Response:
    require_operator(principal, "register facilities")

    return await created(
        request,
        principal,
        lambda: service.create_facility(session, Actor.of(principal), body),
        lambda out: f"/v1/facilities/{out.id}",
    )


@router.get(
    "/v1/facilities/{facilityId}",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="getFacility",
    summary="Read a facility",
    response_model=FacilityOut,
)
async def get_facility(
    database: DatabaseDep,
    _principal: PublicReader,
    facility_id: FacilityId,
) -> Response:
    return tagged_response(await service.get_facility(database, facility_id))


@router.patch(
    "/v1/facilities/{facilityId}",
    operation_id="updateFacility",
    summary="Change a facility (platform operator; needs If-Match)",
    response_model=FacilityOut,
    responses=error_responses(409, 412, 428),
)
async def update_facility(
    session: SessionDep,
    if_match: IfMatchDep,
    principal: Writer,
    facility_id: FacilityId,
    patch: Annotated[FacilityPatch, Body()],
) -> Response:
    require_operator(principal, "change facilities")
    return tagged_response(
        await service.update_facility(session, Actor.of(principal), facility_id, patch, if_match)
    )


@router.delete(
    "/v1/facilities/{facilityId}",
    operation_id="deleteFacility",
    summary="Delete a facility nobody uses or offers (platform operator)",
    status_code=204,
    responses=error_responses(409, 412),
)
async def delete_facility(
    session: SessionDep,
    if_match: OptionalIfMatchDep,
    principal: Writer,
    facility_id: FacilityId,
) -> Response:
    require_operator(principal, "delete facilities")
    # If-Match is optional on DELETE; when sent it must match.
    await service.delete_facility(session, Actor.of(principal), facility_id, if_match)
    return no_content()


@router.post(
    "/v1/facilities/{facilityId}/stage-transitions",
    operation_id="createStageTransition",
    summary="Move a facility forward in its lifecycle (platform operator)",
    status_code=201,
    response_model=StageTransitionOut,
    responses=error_responses(409, 422),
)
async def create_stage_transition(
    request: Request,
    session: SessionDep,
    principal: Writer,
    facility_id: FacilityId,
    body: StageTransitionCreate,
) -> Response:
    require_operator(principal, "change the stage of facilities")

    return await created(
        request,
        principal,
        lambda: service.transition_stage(session, Actor.of(principal), facility_id, body),
        lambda out: f"/v1/facilities/{facility_id}/stage-transitions/{out.id}",
    )


@router.get(
    "/v1/facilities/{facilityId}/stage-transitions",
    operation_id="listStageTransitions",
    summary="Read a facility's lifecycle history, oldest first",
    response_model=Page[StageTransitionOut],
)
async def list_stage_transitions(
    request: Request,
    session: SessionDep,
    _principal: Reader,
    facility_id: FacilityId,
    params: PageDep,
) -> Response:
    items, total = await service.list_transitions(session, facility_id, params)
    return page_response(request, items, total, params)


@router.get(
    "/v1/facilities/{facilityId}/stage-transitions/{transitionId}",
    operation_id="getStageTransition",
    summary="Read one stage transition",
    response_model=StageTransitionOut,
)
async def get_stage_transition(
    session: SessionDep,
    _principal: Reader,
    facility_id: FacilityId,
    transition_id: Annotated[uuid.UUID, Path(alias="transitionId")],
) -> Response:
    return json_response(await service.get_transition(session, facility_id, transition_id))
