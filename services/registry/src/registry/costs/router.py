"""HTTP for population figures and cost summaries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from servicekit.csvfiles import CSV, csv_body
from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.idempotency import created_unless_dry_run
from servicekit.responses import (
    error_responses,
    json_response,
)
from servicekit.routes import Routes

from ..auth import Reader, Writer
from ..common import CheckOnly, FacilityId, OrganisationId
from ..contracts import ContractViewDep
from . import service
from .schemas import (
    FacilityCosts,
    MunicipalityCosts,
    PopulationFigureOut,
    PopulationImportOut,
    PopulationLoad,
    PopulationLoadOut,
)

router = json_router("costs")


@router.post(
    "/v1/population-figures",
    operation_id="loadPopulationFigures",
    summary="Load one year's population figures from a named source (platform operator)",
    description="All or nothing: an unknown or repeated CBS code stores none of them. "
    "Replaces that year's figures of the municipalities named.",
    status_code=201,
    response_model=PopulationLoadOut,
)
async def load_population(
    session: SessionDep,
    principal: Writer,
    body: PopulationLoad,
) -> Response:
    out = await service.load_population(session, principal, body)
    return json_response(out, status_code=201, location=f"/v1/population-figures?year={out.year}")


CSV_BODY = {
    "required": True,
    "content": {
        CSV: {
            "schema": {"type": "string", "maxLength": 1_048_576},
            "example": "code;inhabitants;year;source\r\n"
            "GM0344;367984;2024;CBS StatLine 03759ned\r\n",
        }
    },
}


@router.post(
    "/v1/population-figure-imports",
    operation_id="importPopulationFigures",
    summary="Load population figures from a CSV file (platform operator)",
    description="One row per municipality and year with the columns `code` (CBS code), "
    "`inhabitants`, `year` and `source` (Dutch headers `gemeentecode`, `inwoners`, `jaar`, "
    "`bron` are understood too; other columns are ignored), comma or semicolon separated, "
    "UTF-8. All or nothing: a 400 lists every wrong cell in `invalidParams` as "
    "`rows[N].column`, N the row as a spreadsheet numbers it (the header is row 1), and "
    "stores none. Each row replaces that municipality's figure of that year. `dryRun=true` "
    "checks the file the same way and stores nothing (200). Events: one "
    "`population-figures.loaded` per year and source, as the JSON load sends.",
    status_code=201,
    response_model=PopulationImportOut,
    responses={
        200: {"model": PopulationImportOut, "description": "Dry run: checked, not stored"},
        **error_responses(409, 413, 415, 422),
    },
    openapi_extra={"requestBody": CSV_BODY},
)
async def import_population(
    request: Request,
    session: SessionDep,
    principal: Writer,
    dry_run: CheckOnly = False,
) -> Response:
    body = await csv_body(request, "the file")
    return await created_unless_dry_run(
        request,
        principal,
        dry_run,
        lambda check: service.import_population(session, principal, body, check),
        lambda _out: "/v1/population-figures",
    )


async def figure_filter(
    year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    municipality_id: Annotated[uuid.UUID | None, Query(alias="municipalityId")] = None,
) -> service.FigureFilter:
    return service.FigureFilter(year=year, municipality_id=municipality_id)


Routes(router, "/v1/population-figures", PopulationFigureOut, readers=Reader).page(
    service.list_figures,
    "listPopulationFigures",
    "List population figures (reference data, with year and source)",
    filters=Annotated[service.FigureFilter, Depends(figure_filter)],
)


Routes(
    router,
    "/v1/organisations/{organisationId}/costs",
    MunicipalityCosts,
    OrganisationId,
    readers=Reader,
).read(
    service.municipality_costs,
    "getMunicipalityCosts",
    "A municipality's annual costs of its active usages, and per inhabitant",
    view=ContractViewDep,
    description="`costPerInhabitant` is absent when no population figure is loaded. A "
    "municipality that succeeded others in a merger uses a figure of its own only from a "
    "year on or after the merger (figures count 1 January), else the sum of its own and its "
    "predecessors' figures of one year when all are loaded, else none: never estimated. For "
    "the municipality's own staff, the operator and callers with `registry:contracts` (403 "
    "for others).",
)
Routes(router, "/v1/facilities/{facilityId}/costs", FacilityCosts, FacilityId, readers=Reader).read(
    service.facility_costs,
    "getFacilityCosts",
    "What the municipalities using a facility pay for it per year, and per inhabitant",
    view=ContractViewDep,
    description="`costPerInhabitant` is absent when a municipality with a known cost has no "
    "population figure (after a merger, one that counts its predecessors' inhabitants too: "
    "as for a municipality's costs). `usagesWithCost` and `usagesWithoutCost` count active "
    "usages. The sum of municipalities' contracts: for the operator and callers "
    "with `registry:contracts` (403 for others).",
)
