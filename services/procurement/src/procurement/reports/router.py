"""Demand (JSON or CSV) and OCDS export endpoints."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.clock import ClockDep
from servicekit.csvfiles import CSV, csv_response
from servicekit.db import SessionDep
from servicekit.http import ApiRoute, accept_json, negotiate
from servicekit.responses import json_response

from ..deps import Reader, RegistryDep, TenderId
from ..registry_client import RegistryClient
from . import service
from .schemas import Demand

router = APIRouter(tags=["reports"], route_class=ApiRoute)

CSV_RESPONSE: dict[str, Any] = {
    "description": "Demand as CSV (one row per lot, then per province and lot)",
    "content": {CSV: {"schema": {"type": "string"}}},
}


@dataclass(frozen=True)
class Report:
    """What a report of a tender is made from: the registry fills in the details of
    enrollments made while it was down."""

    tender_id: uuid.UUID
    session: AsyncSession
    registry: RegistryClient
    now: datetime
    reader: Principal

    async def demand(self) -> Demand:
        return await service.demand(
            self.session, self.tender_id, self.now, self.reader, self.registry
        )

    def csv(self, demand: Demand) -> Response:
        return csv_response(service.demand_csv(demand), f"demand-{self.tender_id}.csv")


async def tender_report(
    tender_id: TenderId, session: SessionDep, registry: RegistryDep, clock: ClockDep, reader: Reader
) -> Report:
    return Report(tender_id, session, registry, clock(), reader)


ReportDep = Annotated[Report, Depends(tender_report)]


@router.get(
    "/v1/tenders/{tenderId}/demand",
    operation_id="getDemand",
    summary="Demand per lot and per province (JSON, or CSV with Accept: text/csv)",
    description="The tender's lead party sees everything; other readers see per-lot totals "
    "only, and none for a lot with fewer than 3 participants (`breakdown`, `withheld`, "
    "`withheldExplanation` say so).",
    response_model=Demand,
    responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}, 406: {}},
)
async def get_demand(request: Request, report: ReportDep) -> Response:
    media = negotiate(request, ["application/json", CSV])
    result = await report.demand()
    return report.csv(result) if media == CSV else json_response(result)


@router.get(
    "/v1/tenders/{tenderId}/demand.csv",
    operation_id="getDemandCsv",
    summary="Demand per lot and per province as a CSV download",
    description="As getDemand: province rows only for the tender's lead party, and empty "
    "participants and volume where a lot has fewer than 3 participants.",
    response_class=Response,
    responses={200: CSV_RESPONSE},
)
async def get_demand_csv(report: ReportDep) -> Response:
    return report.csv(await report.demand())


@router.get(
    "/v1/tenders/{tenderId}/ocds",
    operation_id="getTenderOcds",
    summary="The tender as an OCDS 1.1.5 release package",
    response_model=dict[str, Any],
    responses={406: {}},
)
async def get_ocds(request: Request, report: ReportDep) -> JSONResponse:
    await accept_json(request)
    settings = request.app.state.settings
    package = await service.ocds_package(
        report.session,
        report.tender_id,
        report.now,
        ocid_prefix=settings.ocds_ocid_prefix,
        publisher=settings.ocds_publisher_name,
        base_url=settings.public_url,
        registry=report.registry,
    )
    return JSONResponse(package)
