"""Tender, lot and lifecycle endpoints (HTTP only; rules live in service.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from sqlalchemy import func, select

from servicekit.auth import Principal
from servicekit.clock import ClockDep
from servicekit.db import SessionDep
from servicekit.http import IfMatch, accept_json
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, PageParams, page_params
from servicekit.responses import error_responses, json_response, page_response

from ..deps import SCOPE_MANAGE, SCOPE_READ, RegistryDep, auth
from ..history import HistoryEntry
from ..schemas import HistoryOut
from . import service
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

router = APIRouter(tags=["tenders"], dependencies=[Depends(accept_json)])

Reader = Annotated[Principal, Security(auth, scopes=[SCOPE_READ])]
Manager = Annotated[Principal, Security(auth, scopes=[SCOPE_MANAGE])]
TenderId = Annotated[uuid.UUID, Path(alias="tenderId", description="Tender id")]
LotId = Annotated[uuid.UUID, Path(alias="lotId", description="Lot id")]
CREATED = {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}}}


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
    async def handler() -> Response:
        now = clock()
        tender, lots = await service.create_tender(session, registry, principal, body, now)
        return json_response(
            service.tender_out(tender, lots, now),
            201,
            etag=service.tender_etag(tender, now),
            location=f"/v1/tenders/{tender.id}",
        )

    return await idempotent(request, principal, handler)


@router.get(
    "/v1/tenders",
    operation_id="listTenders",
    summary="List tenders",
    response_model=Page[TenderOut],
)
async def list_tenders(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    _principal: Reader,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[TenderStatus | None, Query(description="Effective status")] = None,
    facility_id: Annotated[uuid.UUID | None, Query(alias="facilityId")] = None,
) -> Response:
    now = clock()
    rows, total = await service.list_tenders(
        session,
        offset=params.offset,
        limit=params.page_size,
        status=status,
        facility_id=facility_id,
        now=now,
    )
    return page_response(
        request, [service.tender_out(t, lots, now) for t, lots in rows], total, params
    )


@router.get(
    "/v1/tenders/{tenderId}",
    operation_id="getTender",
    summary="Read a tender with its lots",
    response_model=TenderOut,
)
async def get_tender(
    tender_id: TenderId,
    session: SessionDep,
    clock: ClockDep,
    _principal: Reader,
) -> Response:
    now = clock()
    tender = await service.load(session, tender_id)
    lots = await service.load_lots(session, tender_id)
    return json_response(
        service.tender_out(tender, lots, now), etag=service.tender_etag(tender, now)
    )


@router.patch(
    "/v1/tenders/{tenderId}",
    operation_id="updateTender",
    summary="Change a draft tender (JSON merge patch, If-Match required)",
    response_model=TenderOut,
    responses=error_responses(409, 412, 428),
)
async def update_tender(
    request: Request,
    tender_id: TenderId,
    patch: TenderPatch,
    session: SessionDep,
    clock: ClockDep,
    principal: Manager,
) -> Response:
    now = clock()
    tender, lots = await service.patch_tender(
        session, principal, tender_id, patch, IfMatch(request.headers.get("if-match")), now
    )
    return json_response(
        service.tender_out(tender, lots, now), etag=service.tender_etag(tender, now)
    )


@router.get(
    "/v1/tenders/{tenderId}/lots",
    operation_id="listLots",
    summary="List a tender's lots",
    response_model=list[LotOut],
)
async def list_lots(tender_id: TenderId, session: SessionDep, _principal: Reader) -> list[LotOut]:
    await service.load(session, tender_id)
    return [service.lot_out(lot) for lot in await service.load_lots(session, tender_id)]


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
    async def handler() -> Response:
        lot = await service.add_lot(session, principal, tender_id, body, clock())
        return json_response(
            service.lot_out(lot), 201, location=f"/v1/tenders/{tender_id}/lots/{lot.id}"
        )

    return await idempotent(request, principal, handler)


@router.get(
    "/v1/tenders/{tenderId}/lots/{lotId}",
    operation_id="getLot",
    summary="Read one lot",
    response_model=LotOut,
)
async def get_lot(
    tender_id: TenderId, lot_id: LotId, session: SessionDep, _principal: Reader
) -> LotOut:
    return service.lot_out(await service.get_lot(session, tender_id, lot_id))


def _transition_route(name: str, summary: str, operation_id: str) -> None:
    async def endpoint(
        request: Request,
        tender_id: TenderId,
        session: SessionDep,
        clock: ClockDep,
        principal: Manager,
        body: TransitionIn | None = None,
    ) -> Response:
        now = clock()
        reason = body.reason if body else None
        tender, lots = await service.transition(
            session,
            principal,
            tender_id,
            name,
            reason,
            IfMatch(request.headers.get("if-match"), required=False),
            now,
        )
        return json_response(
            service.tender_out(tender, lots, now), etag=service.tender_etag(tender, now)
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
    request: Request,
    tender_id: TenderId,
    body: CancellationIn,
    session: SessionDep,
    clock: ClockDep,
    principal: Manager,
) -> Response:
    now = clock()
    tender, lots = await service.transition(
        session,
        principal,
        tender_id,
        "cancellation",
        body.reason,
        IfMatch(request.headers.get("if-match"), required=False),
        now,
    )
    return json_response(
        service.tender_out(tender, lots, now), etag=service.tender_etag(tender, now)
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
    params: Annotated[PageParams, Depends(page_params)],
) -> Response:
    tender = await service.load(session, tender_id)
    query = select(HistoryEntry).where(HistoryEntry.tender_id == tender_id)  # type: ignore[arg-type]
    if principal.org_id != tender.lead_party_oin:
        # Others see the tender's own lifecycle, not who enrolled when.
        query = query.where(HistoryEntry.entity != "enrollment")  # type: ignore[arg-type]
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    ordered = query.order_by(HistoryEntry.at, HistoryEntry.id)  # type: ignore[arg-type]
    page = (await session.execute(ordered.offset(params.offset).limit(params.page_size))).scalars()
    return page_response(request, [HistoryOut.model_validate(h) for h in page], int(total), params)
