"""HTTP for /v1/vulnerabilities and the exposure lists."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from servicekit.db import SessionDep
from servicekit.http import IfMatchDep, json_router
from servicekit.responses import (
    error_responses,
    tagged_response,
)
from servicekit.routes import Routes

from ..auth import ExposureReader, Reader, Writer
from ..common import OrganisationId, VulnerabilityId
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

EXPOSURE_NOTE = (
    " A municipality is exposed while a current usage (planned or active) names an "
    "affected version of a published vulnerability."
)


async def vulnerability_filter(
    offering_id: Annotated[uuid.UUID | None, Query(alias="offeringId")] = None,
    cve_id: Annotated[
        str | None, Query(alias="cveId", max_length=30, pattern=r"^CVE-[0-9]{4}-[0-9]{4,19}$")
    ] = None,
    status: Annotated[Status | None, Query()] = None,
) -> service.VulnerabilityFilter:
    return service.VulnerabilityFilter(offering_id=offering_id, cve_id=cve_id, status=status)


vulnerabilities = Routes(
    router,
    "/v1/vulnerabilities/{vulnerabilityId}",
    VulnerabilityOut,
    VulnerabilityId,
    readers=Reader,
    writers=Writer,
)
vulnerabilities.page(
    service.list_vulnerabilities,
    "listVulnerabilities",
    "List recorded vulnerabilities, newest first",
    filters=Annotated[service.VulnerabilityFilter, Depends(vulnerability_filter)],
)
vulnerabilities.create(
    service.create_vulnerability,
    VulnerabilityCreate,
    "createVulnerability",
    "Record a vulnerability in versions of an offering (its supplier or the operator)",
    description="Each municipality this exposes gets a `nl.samen.registry.exposure.detected` "
    "event, delivered only to its own webhook subscriptions." + EXPOSURE_NOTE,
)
vulnerabilities.read(service.get_vulnerability, "getVulnerability", "Read a vulnerability")
vulnerabilities.change(
    service.update_vulnerability,
    VulnerabilityPatch,
    "updateVulnerability",
    "Change a vulnerability (its supplier or the operator; needs If-Match)",
    errors=(409, 412, 428),
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


Routes(
    router,
    "/v1/vulnerabilities/{vulnerabilityId}/exposures",
    ExposureOut,
    VulnerabilityId,
    readers=ExposureReader,
).page(
    service.exposures_of_vulnerability,
    "listVulnerabilityExposures",
    "Who is exposed: municipalities running an affected version",
    description="The operator and the offering's supplier see every municipality; a "
    "municipality sees only itself." + EXPOSURE_NOTE,
    with_caller=True,
)
Routes(
    router,
    "/v1/organisations/{organisationId}/exposures",
    ExposureOut,
    OrganisationId,
    readers=ExposureReader,
).page(
    service.exposures_of_municipality,
    "listOrganisationExposures",
    "Am I exposed: the municipality's usages of vulnerable versions",
    description="Only for the municipality's own staff and the operator; most severe "
    "first." + EXPOSURE_NOTE,
    with_caller=True,
)
