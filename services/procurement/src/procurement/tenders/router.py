"""Tender, lot and lifecycle endpoints (HTTP only; rules live in service.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response

from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.clock import ClockDep
from servicekit.db import SessionDep
from servicekit.http import OptionalIfMatchDep, json_router
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    page_response,
    tagged_response,
)
from servicekit.routes import Routes

from ..deps import (
    CREATED,
    LotId,
    Manager,
    PublicReader,
    PublishedOnly,
    Reader,
    RegistryDep,
    TenderId,
)
from ..schemas import HistoryOut
from . import reads, service
from .schemas import (
    CancellationIn,
    LotIn,
    LotOut,
    TenderIn,
    TenderOut,
    TenderPatch,
    TenderStatus,
    TransitionIn,
)

router = json_router("tenders")


tenders = Routes(
    router, "/v1/tenders/{tenderId}", TenderOut, TenderId, readers=PublicReader, writers=Manager
)
tenders.create(
    service.create_tender,
    TenderIn,
    "createTender",
    "Create a draft tender (lead party staff)",
    errors=(409, 422, 503),
    uses={"registry": RegistryDep, "clock": ClockDep},
    responses={"201": CREATED},
)


@router.get(
    "/v1/tenders",
    operation_id="listTenders",
    summary="List tenders",
    description="Without a token with procurement:read only published tenders are "
    "listed (not draft, not cancelled).",
    response_model=Page[TenderOut],
    openapi_extra=ANONYMOUS_ALLOWED,
)
async def list_tenders(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    published_only: PublishedOnly,
    params: PageDep,
    status: Annotated[TenderStatus | None, Query(description="Effective status")] = None,
    facility_id: Annotated[uuid.UUID | None, Query(alias="facilityId")] = None,
) -> Response:
    items, total = await reads.list_tenders(
        session,
        params,
        status=status,
        facility_id=facility_id,
        now=clock(),
        published_only=published_only,
    )
    return page_response(request, items, total, params)


tenders.read(
    reads.get_tender,
    "getTender",
    "Read a tender with its lots",
    view=PublishedOnly,
    uses={"clock": ClockDep},
    description="Without a token with procurement:read a draft or cancelled tender is a 404.",
)
tenders.change(
    service.patch_tender,
    TenderPatch,
    "updateTender",
    "Change a draft tender (JSON merge patch, If-Match required)",
    errors=(409, 412, 428),
    uses={"clock": ClockDep},
)


@router.get(
    "/v1/tenders/{tenderId}/lots",
    operation_id="listLots",
    summary="List a tender's lots",
    response_model=list[LotOut],
    openapi_extra=ANONYMOUS_ALLOWED,
)
async def list_lots(
    tender_id: TenderId, session: SessionDep, published_only: PublishedOnly
) -> list[LotOut]:
    return await reads.list_lots(session, published_only, tender_id)


lots = Routes(
    router,
    "/v1/tenders/{tenderId}/lots/{lotId}",
    LotOut,
    TenderId,
    LotId,
    readers=PublicReader,
    writers=Manager,
)
lots.create(
    service.add_lot,
    LotIn,
    "createLot",
    "Add a lot to a draft tender",
    uses={"clock": ClockDep},
    responses={"201": CREATED},
)
lots.read(reads.get_lot, "getLot", "Read one lot", view=PublishedOnly)


def _transition_route(name: str, summary: str, operation_id: str) -> None:
    async def endpoint(
        tender_id: TenderId,
        session: SessionDep,
        if_match: OptionalIfMatchDep,
        clock: ClockDep,
        principal: Manager,
        body: TransitionIn | None = None,
    ) -> Response:
        reason = body.reason if body else None
        return tagged_response(
            await service.transition(session, principal, tender_id, name, reason, if_match, clock())
        )

    router.add_api_route(
        f"/v1/tenders/{{tenderId}}/{name}",
        endpoint,
        methods=["POST"],
        operation_id=operation_id,
        summary=summary,
        response_model=TenderOut,
        responses=error_responses(409, 412),
    )


_transition_route("publication", "Open the tender for enrollment", "publishTender")
_transition_route("enrollment-closure", "Close the enrollment window early", "closeEnrollment")
_transition_route("tendering", "Start the tendering phase", "startTendering")
_transition_route("award", "Record that the tender was awarded", "awardTender")
_transition_route("contracting", "Record that the contract was signed", "contractTender")


@router.post(
    "/v1/tenders/{tenderId}/cancellation",
    operation_id="cancelTender",
    summary="Cancel the tender (reason required)",
    response_model=TenderOut,
    responses=error_responses(409, 412),
)
async def cancel_tender(
    tender_id: TenderId,
    body: CancellationIn,
    session: SessionDep,
    if_match: OptionalIfMatchDep,
    clock: ClockDep,
    principal: Manager,
) -> Response:
    return tagged_response(
        await service.transition(
            session, principal, tender_id, "cancellation", body.reason, if_match, clock()
        )
    )


Routes(router, "/v1/tenders/{tenderId}/history", HistoryOut, TenderId, readers=Reader).page(
    reads.list_history,
    "listTenderHistory",
    "Recorded changes of a tender, its lots and enrollments (oldest first)",
    with_caller=True,
)
