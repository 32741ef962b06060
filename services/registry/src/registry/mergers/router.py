"""HTTP for /v1/municipality-mergers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.idempotency import created_unless_dry_run
from servicekit.responses import error_responses
from servicekit.routes import Routes

from ..auth import Reader, Writer
from ..common import MergerId
from . import service
from .schemas import MergerCreate, MergerOut

router = json_router("mergers")

MERGE_DESCRIPTION = (
    "The predecessors continue as the successor from `effectiveDate` (a herindeling): "
    "their usages (which then name the municipality that concluded them in "
    "`inheritedFromId`), support pledges, pilot participations and places in cooperations "
    "pass to the successor, each with its event on the change feed. The predecessors "
    "stay readable with `endedOn` (the day before) and `successorId`, and take no new "
    "writes (409 `organisation-ended`). With `dryRun=true` nothing is stored and the "
    "answer (200) shows what would pass. Procurement moves its enrollments when the "
    "operator applies the merger there (its `POST /municipality-mergers`)."
)


@router.post(
    "/v1/municipality-mergers",
    operation_id="createMunicipalityMerger",
    summary="Merge municipalities into a successor (platform operator)",
    description=MERGE_DESCRIPTION,
    status_code=201,
    response_model=MergerOut,
    responses={
        200: {"description": "Preview (dryRun): what would pass", "model": MergerOut},
        **error_responses(409, 422),
    },
)
async def create_merger(
    request: Request,
    session: SessionDep,
    principal: Writer,
    body: MergerCreate,
    dry_run: Annotated[
        bool, Query(alias="dryRun", description="Only show what would pass; store nothing")
    ] = False,
) -> Response:
    return await created_unless_dry_run(
        request,
        principal,
        dry_run,
        lambda check: service.merge(session, principal, body, dry_run=check),
        lambda out: f"/v1/municipality-mergers/{out.id}",
    )


async def successor_filter(
    successor_id: Annotated[uuid.UUID | None, Query(alias="successorId")] = None,
) -> uuid.UUID | None:
    return successor_id


mergers = Routes(router, "/v1/municipality-mergers/{mergerId}", MergerOut, MergerId, readers=Reader)
mergers.page(
    service.list_mergers,
    "listMunicipalityMergers",
    "List municipal mergers, the latest first",
    filters=Annotated[uuid.UUID | None, Depends(successor_filter)],
)
mergers.read(service.get_merger, "getMunicipalityMerger", "Read a municipal merger")
