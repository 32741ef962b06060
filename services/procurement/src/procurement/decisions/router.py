"""HTTP for /v1/decisions-ahead."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response

from servicekit.clock import ClockDep
from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.pagination import Page, PageDep
from servicekit.responses import error_responses, listed_response

from ..deps import Reader, RegistryDep
from . import service
from .schemas import DecisionAhead

# The documented form, as the registry's radar documents it: at least one of years (0-5),
# months, weeks (0-99) and days (0-999), in that order; each such duration fits 20 years.
_W, _D = r"[0-9]{1,2}W", r"[0-9]{1,3}D"
WITHIN_PATTERN = (
    rf"^P([0-5]Y([0-9]{{1,2}}M)?({_W})?({_D})?|[0-9]{{1,2}}M({_W})?({_D})?|{_W}({_D})?|{_D})$"
)

router = json_router("decisions")


@router.get(
    "/v1/decisions-ahead",
    operation_id="listDecisionsAhead",
    summary="A municipality's coming notice deadlines, with the collective facilities and "
    "planned or open joint tenders that could replace each contract",
    description="The contracts and facilities come from the registry (its organisation "
    "radar); the tenders are this service's drafts and tenders open for enrollment, for "
    "the contract's own facility or an alternative. Soonest deadline first. For the "
    "municipality's own staff, the operator and callers with `registry:contracts` (lead "
    "parties); 403 for others.",
    response_model=Page[DecisionAhead],
    responses=error_responses(404, 503),
)
async def decisions_ahead(
    request: Request,
    session: SessionDep,
    registry: RegistryDep,
    clock: ClockDep,
    principal: Reader,
    params: PageDep,
    municipality_id: Annotated[
        uuid.UUID, Query(alias="municipalityId", description="Registry organisation id")
    ],
    within: Annotated[
        str,
        Query(
            max_length=20,
            pattern=WITHIN_PATTERN,
            description="ISO 8601 date duration (years 0-5, months, weeks, days), e.g. P18M",
            examples=["P18M"],
        ),
    ] = "P18M",
) -> Response:
    now = clock()
    items = await service.decisions_ahead(
        session,
        registry,
        principal,
        municipality_id,
        service.check_within(within),
        now.date(),
        now,
    )
    return listed_response(request, items, params)
