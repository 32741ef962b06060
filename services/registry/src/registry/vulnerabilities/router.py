"""HTTP for /v1/vulnerabilities and the exposure lists."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, Security

from servicekit.auth import Principal
from servicekit.db import SessionDep
from servicekit.http import IfMatchDep, accept_json
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, PageParams, page_params
from servicekit.responses import error_responses, json_response, page_response

from ..auth import EXPOSURE, READ, WRITE, auth
from . import service
from .schemas import (
    ExposureOut,
    Status,
    VulnerabilityCreate,
    VulnerabilityOut,
    VulnerabilityPatch,
    WithdrawalIn,
)

router = APIRouter(tags=["vulnerabilities"], dependencies=[Depends(accept_json)])

VulnerabilityId = Annotated[
    uuid.UUID, Path(alias="vulnerabilityId", description="Vulnerability id")
]
EXPOSURE_NOTE = (
    " A municipality is exposed while a current usage (planned or active) names an "
    "affected version of a published vulnerability."
)


@router.get(
    "/v1/vulnerabilities",
    operation_id="listVulnerabilities",
    summary="List recorded vulnerabilities, newest first",
    response_model=Page[VulnerabilityOut],
)
async def list_vulnerabilities(
    request: Request,
    session: SessionDep,
    _principal: Annotated[Principal, Security(auth, scopes=[READ])],
    params: Annotated[PageParams, Depends(page_params)],
    offering_id: Annotated[uuid.UUID | None, Query(alias="offeringId")] = None,
    cve_id: Annotated[
        str | None, Query(alias="cveId", max_length=30, pattern=r"^CVE-[0-9]{4}-[0-9]{4,19}$")
    ] = None,
    status: Annotated[Status | None, Query()] = None,
) -> Response:
    filters = service.VulnerabilityFilter(offering_id=offering_id, cve_id=cve_id, status=status)
    items, total = await service.list_vulnerabilities(session, filters, params)
    return page_response(request, items, total, params)


@router.post(
    "/v1/vulnerabilities",
    operation_id="createVulnerability",
    summary="Record a vulnerability in versions of an offering (its supplier or the operator)",
    description="Each municipality this exposes gets a `nl.samen.registry.exposure.detected` "
    "event, delivered only to its own webhook subscriptions." + EXPOSURE_NOTE,
    status_code=201,
    response_model=VulnerabilityOut,
    responses=error_responses(409, 422),
)
async def create_vulnerability(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Security(auth, scopes=[WRITE])],
    body: VulnerabilityCreate,
) -> Response:
    async def handler() -> Response:
        out, etag = await service.create_vulnerability(session, principal, body)
        return json_response(
            out, status_code=201, etag=etag, location=f"/v1/vulnerabilities/{out.id}"
        )

    return await idempotent(request, principal, handler)


@router.get(
    "/v1/vulnerabilities/{vulnerabilityId}",
    operation_id="getVulnerability",
    summary="Read a vulnerability",
    response_model=VulnerabilityOut,
)
async def get_vulnerability(
    session: SessionDep,
    _principal: Annotated[Principal, Security(auth, scopes=[READ])],
    vulnerability_id: VulnerabilityId,
) -> Response:
    out, etag = await service.get_vulnerability(session, vulnerability_id)
    return json_response(out, etag=etag)


@router.patch(
    "/v1/vulnerabilities/{vulnerabilityId}",
    operation_id="updateVulnerability",
    summary="Change a vulnerability (its supplier or the operator; needs If-Match)",
    response_model=VulnerabilityOut,
    responses=error_responses(409, 412, 428),
)
async def update_vulnerability(
    session: SessionDep,
    if_match: IfMatchDep,
    principal: Annotated[Principal, Security(auth, scopes=[WRITE])],
    vulnerability_id: VulnerabilityId,
    patch: Annotated[VulnerabilityPatch, Body()],
) -> Response:
    out, etag = await service.update_vulnerability(
        session, principal, vulnerability_id, patch, if_match
    )
    return json_response(out, etag=etag)


@router.post(
    "/v1/vulnerabilities/{vulnerabilityId}/withdrawal",
    operation_id="withdrawVulnerability",
    summary="Withdraw a vulnerability recorded in error (needs If-Match)",
    description="Municipalities it exposed get a `nl.samen.registry.exposure.ended` event.",
    response_model=VulnerabilityOut,
    responses=error_responses(409, 412, 428),
)
async def withdraw_vulnerability(
    session: SessionDep,
    if_match: IfMatchDep,
    principal: Annotated[Principal, Security(auth, scopes=[WRITE])],
    vulnerability_id: VulnerabilityId,
    body: WithdrawalIn,
) -> Response:
    out, etag = await service.withdraw_vulnerability(
        session, principal, vulnerability_id, body.reason, if_match
    )
    return json_response(out, etag=etag)


@router.get(
    "/v1/vulnerabilities/{vulnerabilityId}/exposures",
    operation_id="listVulnerabilityExposures",
    summary="Who is exposed: municipalities running an affected version",
    description="The operator and the offering's supplier see every municipality; a "
    "municipality sees only itself." + EXPOSURE_NOTE,
    response_model=Page[ExposureOut],
)
async def vulnerability_exposures(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Security(auth, scopes=[EXPOSURE])],
    vulnerability_id: VulnerabilityId,
    params: Annotated[PageParams, Depends(page_params)],
) -> Response:
    items = await service.exposures_of_vulnerability(session, principal, vulnerability_id)
    page = items[params.offset : params.offset + params.page_size]
    return page_response(request, page, len(items), params)


@router.get(
    "/v1/organisations/{organisationId}/exposures",
    operation_id="listOrganisationExposures",
    summary="Am I exposed: the municipality's usages of vulnerable versions",
    description="Only for the municipality's own staff and the operator; most severe "
    "first." + EXPOSURE_NOTE,
    response_model=Page[ExposureOut],
)
async def organisation_exposures(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Security(auth, scopes=[EXPOSURE])],
    organisation_id: Annotated[uuid.UUID, Path(alias="organisationId")],
    params: Annotated[PageParams, Depends(page_params)],
) -> Response:
    items = await service.exposures_of_municipality(session, principal, organisation_id)
    page = items[params.offset : params.offset + params.page_size]
    return page_response(request, page, len(items), params)
