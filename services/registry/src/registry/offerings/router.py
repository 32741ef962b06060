"""HTTP for /v1/offerings and their versions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Path, Query, Request, Response

from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.db import DatabaseDep, SessionDep
from servicekit.http import IfMatchDep, json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    page_response,
    tagged_response,
)

from ..auth import PublicReader, Writer
from ..common import CachedPagesDep
from . import service
from .schemas import (
    OfferingCreate,
    OfferingOut,
    OfferingPatch,
    VersionCreate,
    VersionOut,
    VersionPatch,
)

router = json_router("offerings")

OfferingId = Annotated[uuid.UUID, Path(alias="offeringId", description="Offering id")]
VersionId = Annotated[uuid.UUID, Path(alias="versionId", description="Version id")]


@router.get(
    "/v1/offerings",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="listOfferings",
    summary="List supplier offerings",
    response_model=Page[OfferingOut],
)
async def list_offerings(
    pages: CachedPagesDep,
    _principal: PublicReader,
    params: PageDep,
    facility_id: Annotated[uuid.UUID | None, Query(alias="facilityId")] = None,
    supplier_id: Annotated[uuid.UUID | None, Query(alias="supplierId")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Response:
    filters = service.OfferingFilter(facility_id=facility_id, supplier_id=supplier_id, q=q)
    return await pages.items(
        ("offerings", filters),
        params,
        lambda database: service.list_offerings(database, filters, params),
    )


@router.post(
    "/v1/offerings",
    operation_id="createOffering",
    summary="Register an offering (supplier staff)",
    status_code=201,
    response_model=OfferingOut,
    responses=error_responses(409, 422),
)
async def create_offering(
    request: Request,
    session: SessionDep,
    principal: Writer,
    body: OfferingCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.create_offering(session, principal, body),
        lambda out: f"/v1/offerings/{out.id}",
    )


@router.get(
    "/v1/offerings/{offeringId}",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="getOffering",
    summary="Read an offering",
    response_model=OfferingOut,
)
async def get_offering(
    database: DatabaseDep,
    _principal: PublicReader,
    offering_id: OfferingId,
) -> Response:
    return tagged_response(await service.get_offering(database, offering_id))


@router.patch(
    "/v1/offerings/{offeringId}",
    operation_id="updateOffering",
    summary="Change an offering (supplier staff; needs If-Match)",
    response_model=OfferingOut,
    responses=error_responses(412, 428),
)
async def update_offering(
    if_match: IfMatchDep,
    session: SessionDep,
    principal: Writer,
    offering_id: OfferingId,
    patch: Annotated[OfferingPatch, Body()],
) -> Response:
    return tagged_response(
        await service.update_offering(session, principal, offering_id, patch, if_match)
    )


@router.get(
    "/v1/offerings/{offeringId}/versions",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="listOfferingVersions",
    summary="List the versions of an offering, newest release first",
    response_model=Page[VersionOut],
)
async def list_versions(
    request: Request,
    session: SessionDep,
    _principal: PublicReader,
    offering_id: OfferingId,
    params: PageDep,
) -> Response:
    items, total = await service.list_versions(session, offering_id, params)
    return page_response(request, items, total, params)


@router.post(
    "/v1/offerings/{offeringId}/versions",
    operation_id="createOfferingVersion",
    summary="Register a version of an offering (supplier staff)",
    status_code=201,
    response_model=VersionOut,
    responses=error_responses(409, 422),
)
async def create_version(
    request: Request,
    session: SessionDep,
    principal: Writer,
    offering_id: OfferingId,
    body: VersionCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.create_version(session, principal, offering_id, body),
        lambda out: f"/v1/offerings/{offering_id}/versions/{out.id}",
    )


@router.get(
    "/v1/offerings/{offeringId}/versions/{versionId}",
    openapi_extra=ANONYMOUS_ALLOWED,
    operation_id="getOfferingVersion",
    summary="Read a version of an offering",
    response_model=VersionOut,
)
async def get_version(
    session: SessionDep,
    _principal: PublicReader,
    offering_id: OfferingId,
    version_id: VersionId,
) -> Response:
    return tagged_response(await service.get_version(session, offering_id, version_id))


@router.patch(
    "/v1/offerings/{offeringId}/versions/{versionId}",
    operation_id="updateOfferingVersion",
    summary="Change a version of an offering (supplier staff; needs If-Match)",
    response_model=VersionOut,
    responses=error_responses(412, 428),
)
async def update_version(
    if_match: IfMatchDep,
    session: SessionDep,
    principal: Writer,
    offering_id: OfferingId,
    version_id: VersionId,
    patch: Annotated[VersionPatch, Body()],
) -> Response:
    return tagged_response(
        await service.update_version(
            session,
            principal,
            offering_id,
            version_id,
            patch,
            if_match,
        )
    )
