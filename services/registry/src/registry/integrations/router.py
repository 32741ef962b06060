"""HTTP for /v1/integrations and a municipality's landscape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.responses import json_response
from servicekit.routes import Routes

from ..auth import PublicReader, Reader, Writer
from ..common import IntegrationId, OrganisationId
from ..contracts import ContractViewDep
from . import service
from .schemas import (
    IntegrationCreate,
    IntegrationOut,
    IntegrationPatch,
    Kind,
    Landscape,
    Status,
)

router = json_router("integrations")


async def integration_filter(
    offering_id: Annotated[
        uuid.UUID | None,
        Query(alias="offeringId", description="The offering on either side"),
    ] = None,
    kind: Annotated[Kind | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
) -> service.IntegrationFilter:
    return service.IntegrationFilter(offering_id=offering_id, kind=kind, status=status)


integrations = Routes(
    router,
    "/v1/integrations/{integrationId}",
    IntegrationOut,
    IntegrationId,
    readers=PublicReader,
    writers=Writer,
)
integrations.page(
    service.list_integrations,
    "listIntegrations",
    "List integrations between offerings (public catalogue)",
    filters=Annotated[service.IntegrationFilter, Depends(integration_filter)],
)
integrations.create(
    service.create_integration,
    IntegrationCreate,
    "createIntegration",
    "Record an integration (supplier of the source offering, or the operator)",
)
integrations.read(
    service.get_integration, "getIntegration", "Read an integration (public catalogue)"
)
integrations.change(
    service.update_integration,
    IntegrationPatch,
    "updateIntegration",
    "Change an integration (supplier of the source offering or operator; If-Match)",
    description="Status moves forward only: planned → active → ended.",
    errors=(409, 412, 428),
)


@router.get(
    "/v1/organisations/{organisationId}/landscape",
    operation_id="getOrganisationLandscape",
    summary="A municipality's landscape: the offerings it uses and their integrations",
    description="Offerings of its current (planned or active) usages, with supplier, "
    "facility and version, and the integrations not ended between two of them. The "
    "versions a municipality runs tell its vulnerability exposure: for the municipality's "
    "own staff, the operator and callers with `registry:contracts` (403 for others).",
    response_model=Landscape,
    tags=["integrations", "organisations"],
)
async def get_landscape(
    session: SessionDep,
    _principal: Reader,
    view: ContractViewDep,
    organisation_id: OrganisationId,
) -> Response:
    view.require(organisation_id, "its landscape")
    return json_response(await service.landscape(session, organisation_id))
