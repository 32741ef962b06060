"""HTTP for /v1/municipality-mergers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, Request, Response

from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.idempotency import created_unless_dry_run
from servicekit.pagination import Page, PageDep
from servicekit.responses import error_responses, page_response
from servicekit.routes import Routes

from ..auth import Reader, Writer
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


@router.get(
    "/v1/municipality-mergers",
    operation_id="listMunicipalityMergers",
    summary="List municipal mergers, the latest first",
    response_model=Page[MergerOut],
)
async def list_mergers(
    request: Request,
    session: SessionDep,
    _principal: Reader,
    params: PageDep,
    successor_id: Annotated[uuid.UUID | None, Query(alias="successorId")] = None,
) -> Response:
    items, total = await service.list_mergers(session, successor_id, params)
    return page_response(request, items, total, params)


Routes(
    router,
    "/v1/municipality-mergers/{mergerId}",
    MergerOut,
    mergerId=Annotated[uuid.UUID, Path(alias="mergerId")],
).read(service.get_merger, "getMunicipalityMerger", "Read a municipal merger", caller=Reader)
