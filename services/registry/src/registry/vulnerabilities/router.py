"""HTTP for /v1/vulnerabilities and the exposure lists."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Path, Query, Request, Response

from servicekit.db import SessionDep
from servicekit.http import IfMatchDep, json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    listed_response,
    page_response,
    tagged_response,
)

from ..auth import ExposureReader, Reader, Writer
from ..common import OrganisationId
from . import service
from .schemas import (
    ExposureOut,
    Status,
    VulnerabilityCreate,
    VulnerabilityOut,
    VulnerabilityPatch,
    WithdrawalIn,
)

router = json_router("vulnerabilities")

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
    _principal: Reader,
    params: PageDep,
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
    principal: Writer,
    body: VulnerabilityCreate,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.create_vulnerability(session, principal, body),
        lambda out: f"/v1/vulnerabilities/{out.id}",
    )


@router.get(
    "/v1/vulnerabilities/{vulnerabilityId}",
    operation_id="getVulnerability",
    summary="Read a vulnerability",
    response_model=VulnerabilityOut,
)
async def get_vulnerability(
    session: SessionDep,
    _principal: Reader,
    vulnerability_id: VulnerabilityId,
) -> Response:
    return tagged_response(await service.get_vulnerability(session, vulnerability_id))


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
    principal: Writer,
    vulnerability_id: VulnerabilityId,
    patch: Annotated[VulnerabilityPatch, Body()],
) -> Response:
    return tagged_response(
        await service.update_vulnerability(session, principal, vulnerability_id, patch, if_match)
    )


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
    principal: Writer,
    vulnerability_id: VulnerabilityId,
    body: WithdrawalIn,
) -> Response:
    return tagged_response(
        await service.withdraw_vulnerability(
            session, principal, vulnerability_id, body.reason, if_match
        )
    )


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
    principal: ExposureReader,
    vulnerability_id: VulnerabilityId,
    params: PageDep,
) -> Response:
    items = await service.exposures_of_vulnerability(session, principal, vulnerability_id)
    return listed_response(request, items, params)


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
    principal: ExposureReader,
    organisation_id: OrganisationId,
    params: PageDep,
) -> Response:
    items = await service.exposures_of_municipality(session, principal, organisation_id)
    return listed_response(request, items, params)
