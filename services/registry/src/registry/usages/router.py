"""HTTP for /v1/usages and the contract-expiry radar."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from servicekit.clock import dutch_today
from servicekit.csvfiles import CSV, csv_body
from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.idempotency import created_unless_dry_run
from servicekit.pagination import Page, PageDep
from servicekit.responses import (
    PageBody,
    error_responses,
    page_body,
)
from servicekit.routes import Routes
from servicekit.schemas import IsoDate

from ..auth import Reader, Writer
from ..common import (
    CachedPagesDep,
    CheckOnly,
    FacilityId,
    OrganisationId,
    UsageId,
    cached_page,
    invalid,
)
from ..contracts import ContractViewDep
from ..durations import DateDuration, parse_duration
from ..organisations.schemas import OrganisationRadarItem
from . import imports, radar, service
from .schemas import (
    RadarItem,
    UsageCreate,
    UsageImportReport,
    UsageOut,
    UsagePatch,
    UsageStatus,
)

router = json_router("usages")

WITHIN_DEFAULT = "P18M"
# The documented form: at least one of years (0-5), months, weeks (0-99) and days (0-999),
# in that order: every such duration is within the 20 years the service allows.
_W, _D = r"[0-9]{1,2}W", r"[0-9]{1,3}D"
WITHIN_PATTERN = (
    rf"^P([0-5]Y([0-9]{{1,2}}M)?({_W})?({_D})?|[0-9]{{1,2}}M({_W})?({_D})?|{_W}({_D})?|{_D})$"
)


async def window(
    within: Annotated[
        str,
        Query(
            max_length=20,
            pattern=WITHIN_PATTERN,
            description="ISO 8601 date duration from the reference date, e.g. P18M "
            "(years, months, weeks, days; at most 20 years)",
            examples=["P18M"],
        ),
    ] = WITHIN_DEFAULT,
) -> DateDuration:
    try:
        return parse_duration(within)
    except ValueError as exc:
        raise invalid("within", str(exc)) from exc


async def reference_date(
    as_of: Annotated[
        IsoDate | None,
        Query(
            alias="asOf",
            description="Reference date, YYYY-MM-DD (default: today in the Netherlands)",
        ),
    ] = None,
) -> date:
    return as_of or dutch_today()


async def horizon(
    within: Annotated[DateDuration, Depends(window)],
    today: Annotated[date, Depends(reference_date)],
) -> radar.Horizon:
    return radar.Horizon(within, today)


# The radar's query: how far it looks (within) from when (asOf).
HorizonDep = Annotated[radar.Horizon, Depends(horizon)]
# The radar of a facility for one of its offerings: the others compete with it.
CollectiveOffering = Annotated[
    uuid.UUID | None,
    Query(alias="offeringId", description="The collective offering; others compete"),
]


async def usage_filter(
    municipality_id: Annotated[uuid.UUID | None, Query(alias="municipalityId")] = None,
    facility_id: Annotated[uuid.UUID | None, Query(alias="facilityId")] = None,
    offering_id: Annotated[uuid.UUID | None, Query(alias="offeringId")] = None,
    status: Annotated[UsageStatus | None, Query()] = None,
) -> service.UsageFilter:
    return service.UsageFilter(municipality_id, facility_id, offering_id, status)


# The filters of a list of usages (the page and the CSV export).
UsageFilterDep = Annotated[service.UsageFilter, Depends(usage_filter)]


cached_page(
    router,
    "/v1/usages",
    UsageOut,
    service.list_usages,
    "listUsages",
    "List usages (which municipality uses what, until when)",
    caller=Reader,
    view=ContractViewDep,
    filters=UsageFilterDep,
    description="Every reader sees who uses what (status, start); the contract details "
    "of a usage only its municipality's own staff, the operator and callers with "
    "`registry:contracts` (for others they are null and `contractDetailsShown` is false).",
)
usages = Routes(router, "/v1/usages/{usageId}", UsageOut, UsageId, readers=Reader, writers=Writer)
usages.create(
    service.create_usage,
    UsageCreate,
    "createUsage",
    "Register a usage and its contract (staff of the municipality)",
)

IMPORT_DESCRIPTION = (
    "A municipality's usages from a CSV file (`text/csv`, UTF-8, comma or semicolon "
    "separated), one row per usage. The header names the columns as the usage's JSON "
    f"fields, in any order: {', '.join(f'`{c}`' for c in imports.COLUMNS)}; only "
    "`facilityId` is required (a facility id or slug; `versionId` may be the version's "
    "label; `annualCost` in euro with a decimal point or comma, like `1250,50`, and no "
    "thousands separators). Every row must be valid or nothing is stored: a 400 lists every problem as "
    "`rows[N].column`, N the line in the file (the header is line 1). With `dryRun=true` "
    "the file is only checked (200; an Idempotency-Key is not used). Each usage created "
    "is on the change feed as `usage.created`."
)


@router.post(
    "/v1/organisations/{organisationId}/usage-imports",
    operation_id="importUsages",
    summary="Import the municipality's usages from CSV (staff of the municipality)",
    description=IMPORT_DESCRIPTION,
    status_code=201,
    response_model=UsageImportReport,
    responses={
        200: {"description": "Dry run: every row is valid, nothing stored",
              "model": UsageImportReport},
        **error_responses(409, 413, 415, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {CSV: {"schema": {"type": "string"}, "example": imports.EXAMPLE}},
        }
    },
)  # fmt: skip
async def import_usages(
    request: Request,
    session: SessionDep,
    principal: Writer,
    organisation_id: OrganisationId,
    dry_run: CheckOnly = False,
) -> Response:
    body = await csv_body(request, "the usages")
    return await created_unless_dry_run(
        request,
        principal,
        dry_run,
        lambda check: imports.import_usages(
            session, principal, organisation_id, body, dry_run=check
        ),
        lambda _report: f"/v1/usages?municipalityId={organisation_id}",
    )


usages.read(
    service.get_usage,
    "getUsage",
    "Read a usage",
    view=ContractViewDep,
    description="Its contract details only for the municipality's own staff, the operator "
    "and callers with `registry:contracts` (for others null, `contractDetailsShown` false).",
)
usages.change(
    service.update_usage,
    UsagePatch,
    "updateUsage",
    "Change a usage or its contract (staff of the municipality; needs If-Match)",
    errors=(409, 412, 428),
)


@router.get(
    "/v1/facilities/{facilityId}/radar",
    operation_id="getFacilityRadar",
    summary="Contract-expiry radar: municipalities that could join this facility",
    description="Municipalities that do not use the facility (or use a competing offering "
    "when `offeringId` names the collective one) and whose current contract in the same "
    "theme ends within the window; sorted by the last date they must give notice. A "
    "contract is left out once its municipality has another current (planned or active) "
    "usage of the same facility starting on or after its end: that decision is made. "
    "It shows other municipalities' contracts: for the operator and callers with "
    "`registry:contracts` only (403 for others).",
    response_model=Page[RadarItem],
    tags=["radar"],
)
async def facility_radar(
    pages: CachedPagesDep,
    _principal: Reader,
    view: ContractViewDep,
    facility_id: FacilityId,
    span: HorizonDep,
    params: PageDep,
    offering_id: CollectiveOffering = None,
) -> Response:
    view.require_every("the radar of a facility")

    async def compute() -> PageBody:
        async with pages.database.read_sessionmaker() as session:
            items, total = await radar.facility_radar(
                session, facility_id, span, offering_id, params.offset, params.page_size
            )
        return page_body(items, total)

    key = ("facility-radar", facility_id, span, offering_id)
    return await pages.answer(key, params, compute)


@router.get(
    "/v1/organisations/{organisationId}/radar",
    operation_id="getOrganisationRadar",
    summary="A municipality's contracts ending soon, with facilities it could join",
    description="Its current contracts ending within the window, except those followed "
    "by another current (planned or active) usage of the same facility starting on or "
    "after their end (the decision is made). For the municipality's own staff, the "
    "operator and callers with `registry:contracts` (403 for others).",
    response_model=Page[OrganisationRadarItem],
    tags=["radar"],
)
async def organisation_radar(
    pages: CachedPagesDep,
    _principal: Reader,
    view: ContractViewDep,
    organisation_id: OrganisationId,
    span: HorizonDep,
    params: PageDep,
) -> Response:
    view.require(organisation_id, "its radar")

    async def compute() -> PageBody:
        async with pages.database.sessionmaker() as session:
            items = await radar.organisation_radar(session, organisation_id, span)
        return page_body(params.window(items), len(items))

    key = ("organisation-radar", organisation_id, span)
    return await pages.answer(key, params, compute)
