"""HTTP for /v1/municipality-mergers: a registry merger applied to enrollments."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from servicekit.clock import ClockDep
from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.responses import error_responses, json_response
from servicekit.routes import Routes

from ..deps import Manager, MergerId, Reader, RegistryDep
from . import service
from .schemas import AppliedMergerOut, MergerApply

router = json_router("mergers")

APPLY_DESCRIPTION = (
    "After the registry recorded a municipal merger, the platform operator applies it "
    "here: procurement reads the merger from the registry and moves the predecessors' "
    "current enrollments to the successor (an enrollment where the successor has one "
    "already is folded into it: volumes added per lot, the earlier start date; it ends "
    "as `merged`), each with its history row and event. Once per merger: applying it "
    "again answers the first result (200). `dryRun=true` shows what would move (200)."
)


@router.post(
    "/v1/municipality-mergers",
    operation_id="applyMunicipalityMerger",
    summary="Apply a registry merger to enrollments (platform operator)",
    description=APPLY_DESCRIPTION,
    status_code=201,
    response_model=AppliedMergerOut,
    responses={
        200: {"description": "Applied before, or a preview", "model": AppliedMergerOut},
        **error_responses(409, 503),
    },
)
async def apply_merger(
    session: SessionDep,
    registry: RegistryDep,
    clock: ClockDep,
    principal: Manager,
    body: MergerApply,
    dry_run: Annotated[
        bool, Query(alias="dryRun", description="Only show what would move; store nothing")
    ] = False,
) -> Response:
    out, applied_now = await service.apply(
        session, registry, principal, body.merger_id, clock(), dry_run=dry_run
    )
    if not applied_now or dry_run:
        return json_response(out)
    return json_response(out, status_code=201, location=f"/v1/municipality-mergers/{out.id}")


Routes(
    router, "/v1/municipality-mergers/{mergerId}", AppliedMergerOut, MergerId, readers=Reader
).read(service.get, "getAppliedMunicipalityMerger", "A merger as applied to enrollments")
