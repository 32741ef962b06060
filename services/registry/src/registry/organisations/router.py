"""HTTP for /v1/organisations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Request, Response

from servicekit.actor import Actor
from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.db import SessionDep
from servicekit.http import IfMatchDep, json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    page_response,
    tagged_response,
)

from ..auth import PublicReader, Writer, require_operator
from ..common import OrganisationId
from . import service
from .schemas import OrganisationCreate, OrganisationOut, OrganisationPatch, OrganisationType

router = json_router("organisations")


@router.get(
    "/v1/organisations",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="listOrganisations",
    summary="List organisations",
    description="Municipalities, suppliers, cooperations and the platform operator, "
    "filtered by type and identifier; `q` searches the name. Municipalities ended by a "
    "merger are listed too, with `endedOn` and `successorId` (`ended=false` leaves them "
    "out).",
    response_model=Page[OrganisationOut],
)
async def list_organisations(
    request: Request,
    session: SessionDep,
    _principal: PublicReader,
    params: PageDep,
    type: Annotated[OrganisationType | None, Query(description="Organisation type")] = None,
    oin: Annotated[str | None, Query(pattern=r"^[0-9]{20}$", description="OIN (20 digits)")] = None,
    kvk_number: Annotated[
        str | None, Query(alias="kvkNumber", pattern=r"^[0-9]{8}$", description="KvK number")
    ] = None,
    cbs_code: Annotated[
        str | None, Query(alias="cbsCode", pattern=r"^GM[0-9]{4}$", description="CBS code")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Name contains")
    ] = None,
    ended: Annotated[
        bool | None, Query(description="Only organisations ended by a merger (or only not)")
    ] = None,
) -> Response:
    filters = service.OrganisationFilter(
        type=type, oin=oin, kvk_number=kvk_number, cbs_code=cbs_code, q=q, ended=ended
    )
    items, total = await service.list_organisations(session, filters, params)
    return page_response(request, items, total, params)


@router.post(
    "/v1/organisations",
    operation_id="createOrganisation",
    summary="Register an organisation (platform operator)",
    status_code=201,
    response_model=OrganisationOut,
    responses=error_responses(409, 422),
)
async def create_organisation(
    request: Request,
    session: SessionDep,
    principal: Writer,
    body: OrganisationCreate,
) -> Response:
    require_operator(principal, "register organisations")

    return await created(
        request,
        principal,
        lambda: service.create_organisation(session, Actor.of(principal), body),
        lambda out: f"/v1/organisations/{out.id}",
    )


@router.get(
    "/v1/organisations/{organisationId}",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="getOrganisation",
    summary="Read an organisation",
    response_model=OrganisationOut,
)
async def get_organisation(
    session: SessionDep,
    _principal: PublicReader,
    organisation_id: OrganisationId,
) -> Response:
    return tagged_response(await service.get_organisation(session, organisation_id))


@router.patch(
    "/v1/organisations/{organisationId}",
    operation_id="updateOrganisation",
    summary="Change an organisation (platform operator; needs If-Match)",
    response_model=OrganisationOut,
    responses=error_responses(409, 412, 428),
)
async def update_organisation(
    if_match: IfMatchDep,
    session: SessionDep,
    principal: Writer,
    organisation_id: OrganisationId,
    patch: Annotated[OrganisationPatch, Body()],
) -> Response:
    require_operator(principal, "change organisations")
    return tagged_response(
        await service.update_organisation(
            session,
            Actor.of(principal),
            organisation_id,
            patch,
            if_match,
        )
    )
