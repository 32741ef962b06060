"""Demand (JSON or CSV) and OCDS export endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from servicekit.clock import ClockDep
from servicekit.csvfiles import CSV, csv_response
from servicekit.db import SessionDep
from servicekit.http import accept_json, negotiate
from servicekit.responses import json_response

from ..deps import Reader, RegistryDep, TenderId
from . import service
from .schemas import Demand

router = APIRouter(tags=["reports"])

CSV_RESPONSE: dict[str, Any] = {
    "description": "Demand as CSV (one row per lot, then per province and lot)",
    "content": {CSV: {"schema": {"type": "string"}}},
}


def _csv(tender_id: uuid.UUID, body: str) -> Response:
    return csv_response(body, f"demand-{tender_id}.csv")


@router.get(
    "/v1/tenders/{tenderId}/demand",
    operation_id="getDemand",
    summary="Demand per lot and per province (JSON, or CSV with Accept: text/csv)",
    response_model=Demand,
    responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}, 406: {}},
)
async def get_demand(
    request: Request,
    tender_id: TenderId,
    session: SessionDep,
    registry: RegistryDep,
    clock: ClockDep,
    _p: Reader,
) -> Response:
    media = negotiate(request, ["application/json", CSV])
    result = await service.demand(session, tender_id, clock(), registry)
    if media == CSV:
        return _csv(tender_id, service.demand_csv(result))
    return json_response(result)


@router.get(
    "/v1/tenders/{tenderId}/demand.csv",
    operation_id="getDemandCsv",
    summary="Demand per lot and per province as a CSV download",
    response_class=Response,
    responses={200: CSV_RESPONSE},
)
async def get_demand_csv(
    tender_id: TenderId, session: SessionDep, registry: RegistryDep, clock: ClockDep, _p: Reader
) -> Response:
    result = await service.demand(session, tender_id, clock(), registry)
    return _csv(tender_id, service.demand_csv(result))


@router.get(
    "/v1/tenders/{tenderId}/ocds",
    operation_id="getTenderOcds",
    summary="The tender as an OCDS 1.1.5 release package",
    response_model=dict[str, Any],
    responses={406: {}},
)
async def get_ocds(
    request: Request,
    tender_id: TenderId,
    session: SessionDep,
    registry: RegistryDep,
    clock: ClockDep,
    _p: Reader,
) -> JSONResponse:
    await accept_json(request)
    settings = request.app.state.settings
    package = await service.ocds_package(
        session,
        tender_id,
        clock(),
        ocid_prefix=settings.ocds_ocid_prefix,
        publisher=settings.ocds_publisher_name,
        base_url=settings.public_url,
        registry=registry,
    )
    return JSONResponse(package)
