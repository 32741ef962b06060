"""Public pages (no log-in): search, facilities, organisations, tenders."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..api import Api
from ..web.templating import render
from . import service

router = APIRouter()
KINDS = ("infrastructure", "application", "service", "standard", "agreement")
STAGES = ("initiative", "pilot", "impact-analysis", "implementation", "operational", "retired")
TENDER_STATUSES = (
    "open-for-enrollment",
    "enrollment-closed",
    "tendering",
    "awarded",
    "contracted",
    "cancelled",
)


def api_of(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


MAX_QUERY = 200


@router.get("/")
async def home(
    request: Request,
    q: str = Query(""),
    type: str = Query("", pattern=r"^(facility|offering)?$"),
    kind: str = Query("", pattern=r"^[a-z-]*$", max_length=40),
    theme: str = Query("", max_length=100),
    stage: str = Query("", pattern=r"^[a-z-]*$", max_length=40),
    page: int = Query(1, ge=1, le=1000),
) -> Response:
    api = api_of(request)
    q = q.strip()
    # A longer search (from a link or a bookmark) is cut, searched and said so next to
    # the field, not refused with an error page.
    cut = len(q) > MAX_QUERY
    q = q[:MAX_QUERY].strip()
    filters = {k: v for k, v in (("type", type), ("kind", kind), ("theme", theme)) if v}
    if q:
        results = await service.search(api, q, filters, page)
    else:
        listing = {k: v for k, v in (("kind", kind), ("theme", theme), ("stage", stage)) if v}
        results = await service.facilities(api, listing, page)
    chosen = {k: v for k, v in (("q", q), *filters.items()) if v}
    if not q and stage:
        chosen["stage"] = stage
    return render(
        request,
        "catalogue/home.html",
        {
            "q": q,
            "q_cut": cut,
            "max_query": MAX_QUERY,
            "results": results,
            "chosen": chosen,
            "kinds": KINDS,
            "stages": STAGES,
            "base": "/?" + (urlencode(chosen) + "&" if chosen else ""),
            "filter_url": lambda name, value: (
                "/?" + urlencode({**{k: v for k, v in chosen.items() if k != name}, name: value})
            ),
            "clear_url": lambda name: (
                "/?" + urlencode({k: v for k, v in chosen.items() if k != name})
            ),
        },
    )


@router.get("/facilities/{key}")
async def facility(request: Request, key: str) -> Response:
    data = await service.facility_page(api_of(request), key)
    return render(request, "catalogue/facility.html", {**data, "stages": STAGES})


@router.get("/organisations/{organisation_id}")
async def organisation(request: Request, organisation_id: uuid.UUID) -> Response:
    data = await service.organisation_page(api_of(request), str(organisation_id))
    return render(request, "catalogue/organisation.html", data)


@router.get("/tenders")
async def tenders(
    request: Request,
    status: str = Query("open-for-enrollment", pattern=r"^[a-z-]*$", max_length=40),
    page: int = Query(1, ge=1, le=1000),
) -> Response:
    chosen = status if status in TENDER_STATUSES else ""
    data = await service.tenders(api_of(request), chosen or None, page)
    return render(
        request,
        "catalogue/tenders.html",
        {
            "page": data,
            "status": chosen,
            "statuses": TENDER_STATUSES,
            "base": "/tenders?" + urlencode({"status": chosen}) + "&",
        },
    )


@router.get("/tenders/{tender_id}")
async def tender(request: Request, tender_id: uuid.UUID) -> Response:
    data = await service.tender_page(api_of(request), str(tender_id))
    if data["tender"]["status"] == "draft":
        # The portal reads with a token that sees drafts; the public does not.
        raise HTTPException(404)
    return render(request, "catalogue/tender.html", data)


@router.get("/accessibility")
async def accessibility(request: Request) -> Response:
    return render(request, "catalogue/accessibility.html")
