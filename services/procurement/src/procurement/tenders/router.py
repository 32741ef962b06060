"""Tender, lot and lifecycle endpoints (HTTP only; rules live in service.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, Request, Response

from servicekit.auth import ANONYMOUS_ALLOWED
from servicekit.clock import ClockDep
from servicekit.db import SessionDep
from servicekit.http import IfMatchDep, OptionalIfMatchDep, json_router
from servicekit.idempotency import created
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    error_responses,
    page_response,
    tagged_response,
)

from ..deps import CREATED, Manager, PublicReader, Reader, RegistryDep, TenderId, published_only
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

LotId = Annotated[uuid.UUID, Path(alias="lotId", description="Lot id")]


@router.post(
    "/v1/tenders",
    operation_id="createTender",
    summary="Create a draft tender (lead party staff)",
    status_code=201,
    response_model=TenderOut,
    responses=error_responses(409, 422, 503, **{"201": CREATED}),
)
async def create_tender(
    request: Request,
    body: TenderIn,
    session: SessionDep,
    registry: RegistryDep,
    clock: ClockDep,
    principal: Manager,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.create_tender(session, registry, principal, body, clock()),
        lambda out: f"/v1/tenders/{out.id}",
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
    principal: PublicReader,
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
        published_only=published_only(principal),
    )
    return page_response(request, items, total, params)


@router.get(
    "/v1/tenders/{tenderId}",
    operation_id="getTender",
    summary="Read a tender with its lots",
    description="Without a token with procurement:read a draft or cancelled tender is a 404.",
    response_model=TenderOut,
    openapi_extra=ANONYMOUS_ALLOWED,
)
async def get_tender(
    tender_id: TenderId,
    session: SessionDep,
    clock: ClockDep,
    principal: PublicReader,
) -> Response:
    return tagged_response(
        await reads.get_tender(
            session, tender_id, clock(), published_only=published_only(principal)
        )
    )


@router.patch(
    "/v1/tenders/{tenderId}",
    operation_id="updateTender",
    summary="Change a draft tender (JSON merge patch, If-Match required)",
    response_model=TenderOut,
    responses=error_responses(409, 412, 428),
)
async def update_tender(
    tender_id: TenderId,
    patch: TenderPatch,
    session: SessionDep,
    if_match: IfMatchDep,
    clock: ClockDep,
    principal: Manager,
) -> Response:
    return tagged_response(
        await service.patch_tender(session, principal, tender_id, patch, if_match, clock())
    )


@router.get(
    "/v1/tenders/{tenderId}/lots",
    operation_id="listLots",
    summary="List a tender's lots",
    response_model=list[LotOut],
    openapi_extra=ANONYMOUS_ALLOWED,
)
async def list_lots(
    tender_id: TenderId, session: SessionDep, principal: PublicReader
) -> list[LotOut]:
    return await reads.list_lots(session, tender_id, published_only(principal))


@router.post(
    "/v1/tenders/{tenderId}/lots",
    operation_id="createLot",
    summary="Add a lot to a draft tender",
    status_code=201,
    response_model=LotOut,
    responses=error_responses(409, 422, **{"201": CREATED}),
)
async def create_lot(
    request: Request,
    tender_id: TenderId,
    body: LotIn,
    session: SessionDep,
    clock: ClockDep,
    principal: Manager,
) -> Response:
    return await created(
        request,
        principal,
        lambda: service.add_lot(session, principal, tender_id, body, clock()),
        lambda lot: f"/v1/tenders/{tender_id}/lots/{lot.id}",
    )


@router.get(
    "/v1/tenders/{tenderId}/lots/{lotId}",
    operation_id="getLot",
    summary="Read one lot",
    response_model=LotOut,
    openapi_extra=ANONYMOUS_ALLOWED,
)
async def get_lot(
    tender_id: TenderId, lot_id: LotId, session: SessionDep, principal: PublicReader
) -> LotOut:
    return await reads.get_lot(session, tender_id, lot_id, published_only(principal))


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


@router.get(
    "/v1/tenders/{tenderId}/history",
    operation_id="listTenderHistory",
    summary="Recorded changes of a tender, its lots and enrollments (oldest first)",
    response_model=Page[HistoryOut],
)
async def tender_history(
    request: Request,
    tender_id: TenderId,
    session: SessionDep,
    principal: Reader,
    params: PageDep,
) -> Response:
    items, total = await reads.list_history(session, principal, tender_id, params)
    return page_response(request, items, total, params)
