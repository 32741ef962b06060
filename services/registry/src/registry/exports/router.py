"""HTTP for the downloads: CSV of usages, offerings and the radar; AMEFF of a landscape."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from servicekit.clock import dutch_today
from servicekit.csvfiles import CSV, attachment, csv_response, csv_responses
from servicekit.db import SessionDep
from servicekit.http import ApiRoute, negotiate
from servicekit.responses import error_responses

from ..auth import Reader
from ..common import FacilityId, OrganisationId
from ..contracts import ContractViewDep
from ..usages.router import CollectiveOffering, HorizonDep, UsageFilterDep
from . import service

XML = "application/xml"


async def accept_csv(request: Request) -> None:
    negotiate(request, [CSV])


router = APIRouter(tags=["exports"], route_class=ApiRoute)
CsvOnly = [Depends(accept_csv)]


@router.get(
    "/v1/exports/usages.csv",
    operation_id="exportUsagesCsv",
    summary="Usages as CSV, with the names of municipality, facility and offering",
    description="Every usage matching the filters (no pages), one row each; cells a "
    "spreadsheet would read as a formula start with an apostrophe. Contract details as in "
    "`GET /v1/usages`: empty for usages the caller may not see them of.",
    response_class=Response,
    responses=csv_responses("Usages as CSV"),
    dependencies=CsvOnly,
)
async def export_usages(
    session: SessionDep,
    _principal: Reader,
    view: ContractViewDep,
    filters: UsageFilterDep,
) -> Response:
    body = await service.usages_csv(session, filters, view)
    return csv_response(body, f"usages-{dutch_today()}.csv")


@router.get(
    "/v1/exports/offerings.csv",
    operation_id="exportOfferingsCsv",
    summary="Offerings as CSV, with supplier, facility and version labels",
    response_class=Response,
    responses=csv_responses("Offerings as CSV"),
    dependencies=CsvOnly,
)
async def export_offerings(
    session: SessionDep,
    _principal: Reader,
    facility_id: Annotated[uuid.UUID | None, Query(alias="facilityId")] = None,
    supplier_id: Annotated[uuid.UUID | None, Query(alias="supplierId")] = None,
) -> Response:
    equal = {"facility_id": facility_id, "supplier_id": supplier_id}
    body = await service.offerings_csv(session, equal)
    return csv_response(body, f"offerings-{dutch_today()}.csv")


@router.get(
    "/v1/facilities/{facilityId}/radar.csv",
    operation_id="getFacilityRadarCsv",
    summary="The facility's contract-expiry radar as CSV (every row, no pages)",
    description="For the operator and callers with `registry:contracts` (403 for others).",
    response_class=Response,
    responses=csv_responses("The radar as CSV"),
    dependencies=CsvOnly,
    tags=["radar"],
)
async def facility_radar_csv(
    session: SessionDep,
    _principal: Reader,
    view: ContractViewDep,
    facility_id: FacilityId,
    span: HorizonDep,
    offering_id: CollectiveOffering = None,
) -> Response:
    view.require_every("the radar of a facility")
    body = await service.facility_radar_csv(session, facility_id, span, offering_id)
    return csv_response(body, f"radar-{facility_id}-{span.today}.csv")


@router.get(
    "/v1/organisations/{organisationId}/radar.csv",
    operation_id="getOrganisationRadarCsv",
    summary="A municipality's contracts ending soon as CSV (alternatives by name)",
    description="For the municipality's own staff, the operator and callers with "
    "`registry:contracts` (403 for others).",
    response_class=Response,
    responses=csv_responses("The radar as CSV"),
    dependencies=CsvOnly,
    tags=["radar"],
)
async def organisation_radar_csv(
    session: SessionDep,
    _principal: Reader,
    view: ContractViewDep,
    organisation_id: OrganisationId,
    span: HorizonDep,
) -> Response:
    view.require(organisation_id, "its radar")
    body = await service.organisation_radar_csv(session, organisation_id, span)
    return csv_response(body, f"radar-{organisation_id}-{span.today}.csv")


LANDSCAPE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The landscape as an ArchiMate Model Exchange File (AMEFF 3.x)",
        "content": {XML: {"schema": {"type": "string"}}},
    },
    **error_responses(),
}


async def accept_xml(request: Request) -> None:
    negotiate(request, [XML])


@router.get(
    "/v1/organisations/{organisationId}/landscape.xml",
    operation_id="getLandscapeArchimate",
    summary="A municipality's application landscape for architecture tools (ArchiMate)",
    description="The offerings the municipality uses under a current contract as "
    "ApplicationComponents serving the municipality (a BusinessActor), in The Open "
    "Group's ArchiMate Model Exchange File Format (namespace "
    "http://www.opengroup.org/xsd/archimate/3.0/). Like the landscape: for the "
    "municipality's own staff, the operator and callers with `registry:contracts` (403 for "
    "others).",
    response_class=Response,
    responses=LANDSCAPE_RESPONSES,
    dependencies=[Depends(accept_xml)],
)
async def landscape(
    session: SessionDep, _principal: Reader, view: ContractViewDep, organisation_id: OrganisationId
) -> Response:
    view.require(organisation_id, "its landscape")
    body = await service.landscape_xml(session, organisation_id)
    return attachment(body, f"landscape-{organisation_id}.xml", XML)
