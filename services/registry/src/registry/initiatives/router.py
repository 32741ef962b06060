"""HTTP for /v1/initiatives (proposals, ranked by support) and support pledges."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    page_response,
)
from servicekit.routes import Routes

from ..auth import PublicReader, Reader, Writer
from ..common import FacilityId, PledgeId
from . import service
from .schemas import InitiativeCreate, InitiativeOut, InitiativeStage, PledgeCreate, PledgeOut

router = json_router("initiatives")

OpenStage = Annotated[
    InitiativeStage | None,
    Query(description="Only this stage"),
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
    items, total = await service.list_initiatives(session, stage, params)
    return page_response(request, items, total, params)


initiatives = Routes(
    router,
    "/v1/initiatives/{facilityId}",
    InitiativeOut,
    FacilityId,
    readers=PublicReader,
    writers=Writer,
)
initiatives.create(
    service.propose,
    InitiativeCreate,
    "proposeInitiative",
    "Propose an initiative: a new facility in stage initiative (a municipality or "
    "cooperation, for itself)",
    named_by="facility_id",
)
initiatives.read(
    service.get_initiative,
    "getInitiative",
    "A facility's proposer, support, pilot and impact-analysis outcome",
)


pledges = Routes(
    router,
    "/v1/facilities/{facilityId}/pledges/{pledgeId}",
    PledgeOut,
    FacilityId,
    PledgeId,
    readers=Reader,
    writers=Writer,
)
pledges.page(service.list_pledges, "listPledges", "Municipalities supporting a facility")
pledges.create(
    service.pledge,
    PledgeCreate,
    "pledgeSupport",
    "Pledge a municipality's support: interest, willing to pilot, or willing to "
    "co-fund with an amount (staff of the municipality)",
)
pledges.delete(
    service.withdraw_pledge,
    "withdrawPledge",
    "Withdraw a pledge (staff of the municipality)",
    errors=(),
    conditional=False,
)
