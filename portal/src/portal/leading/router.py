"""Lead party staff (eHerkenning, "aanbesteding leiden"): create a tender with lots,
publish it, follow its enrollments, see demand per lot and per province (SVG + table),
and download OCDS and CSV."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from servicekit.csvfiles import attachment, csv_response

from ..api import Api, ApiProblem, ApiResult
from ..web.access import Forbidden, require_person
from ..web.forms import STALE, Form, submit_change, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from . import chart, service

router = APIRouter(prefix="/leading")
ROLE = "procurement-manager"


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def _staff(request: Request) -> None:
    person = require_person(request)
    if ROLE not in person.roles and "platform-admin" not in person.roles:
        raise Forbidden()


async def _lead_tender(request: Request, tender_id: uuid.UUID) -> ApiResult:
    """The tender with its ETag, for its lead party's staff only: anyone else gets the 403
    page before any form is shown or anything is sent."""
    _staff(request)
    api, session = _api(request), session_of(request)
    result = await service.read(api, session, str(tender_id))
    if not await service.leads(api, session, result.data):
        raise Forbidden()
    return result


def _flash(request: Request, key: str) -> None:
    session = session_of(request)
    session.data.flash.append(key)
    session.changed()


@router.get("/tenders")
async def tenders(request: Request) -> Response:
    _staff(request)
    data = await service.mine(_api(request), session_of(request))
    return render(request, "leading/tenders.html", {**data, "form": Form()})


async def _form_page(request: Request, form: Form, status: int = 200) -> Response:
    facilities = await service.facilities(_api(request))
    return render(
        request,
        "leading/new.html",
        {
            "form": form,
            "facilities": [(f["id"], f["name"]) for f in facilities],
            "procedures": service.PROCEDURES,
            "rows": range(service.LOT_ROWS),
        },
        status,
    )


@router.get("/tenders/new")
async def new_tender(request: Request) -> Response:
    _staff(request)
    form = take_pending(request) or Form(
        values={"procedure": "open", "contractDurationMonths": "48"}
    )
    return await _form_page(request, form)


@router.post("/tenders/new")
async def create_tender(request: Request) -> Response:
    _staff(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    try:
        result = await service.create(
            _api(request), session_of(request), fields, form.idempotency_key, language_of(request)
        )
    except ApiProblem as problem:
        if problem.status not in (400, 409, 422):
            raise
        t = Translator(language_of(request))
        form.apply_problem(t, problem, service.field_names(fields))
        if "lots" in problem.invalid_params:
            # No lot row filled in: what is missing is the first lot's title.
            form.errors["lot0_title"] = t("error.required")
        return await _form_page(request, form, 400)
    session = session_of(request)
    session.data.flash.append("flash.tender_created")
    session.changed()
    return RedirectResponse(f"/leading/tenders/{result.data['id']}", status_code=303)


@router.get("/tenders/{tender_id}")
async def tender(request: Request, tender_id: uuid.UUID) -> Response:
    result = await _lead_tender(request, tender_id)
    return await _detail_page(request, result.data, Form())


async def _detail_page(
    request: Request, tender: dict[str, Any], form: Form, status: int = 200
) -> Response:
    data = await service.detail(_api(request), session_of(request), tender)
    demand = data["demand"]
    t = Translator(language_of(request))
    by_lot = chart.bars(
        # A lot's figures are null where procurement withholds them: no bar, not a 0.
        [(f"{lot['number']}. {lot['title']}", lot["participants"]) for lot in demand["lots"]]
    )
    by_province = chart.bars(
        [
            (p["province"] or t("leading.province_unknown"), p["participants"])
            for p in demand["provinces"]
        ]
    )
    return render(
        request,
        "leading/tender.html",
        {**data, "form": form, "by_lot": by_lot, "by_province": by_province},
        status,
    )


@router.post("/tenders/{tender_id}/publication")
async def publish(request: Request, tender_id: uuid.UUID) -> Response:
    current = await _lead_tender(request, tender_id)
    fields = await read_form(request)
    form = Form.submitted(fields)
    try:
        await service.publish(
            _api(request), session_of(request), str(tender_id), form.idempotency_key
        )
    except ApiProblem as problem:
        if problem.status not in (400, 409, 422):
            raise
        form.apply_problem(Translator(language_of(request)), problem)
        return await _detail_page(request, current.data, form, 400)
    session = session_of(request)
    session.data.flash.append("flash.tender_published")
    session.changed()
    return RedirectResponse(f"/leading/tenders/{tender_id}", status_code=303)


@router.get("/tenders/{tender_id}/edit")
async def edit_tender(request: Request, tender_id: uuid.UUID) -> Response:
    result = await _lead_tender(request, tender_id)
    if result.data["status"] != "draft":
        return RedirectResponse(f"/leading/tenders/{tender_id}", status_code=303)
    form = Form(values={**service.edit_values(result.data), "etag": result.etag})
    return _edit_page(request, result.data, form)


def _edit_page(request: Request, tender: dict[str, Any], form: Form, status: int = 200) -> Response:
    context = {"tender": tender, "form": form, "procedures": service.PROCEDURES}
    return render(request, "leading/edit.html", context, status)


@router.post("/tenders/{tender_id}/edit")
async def change_tender(request: Request, tender_id: uuid.UUID) -> Response:
    await _lead_tender(request, tender_id)
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session, lang = _api(request), session_of(request), language_of(request)
    change = service.change(api, session, str(tender_id), fields, lang)
    outcome = await submit_change(Translator(lang), form, change, service.field_names(fields))
    if outcome is not None:
        current = await service.read(api, session, str(tender_id))
        if outcome == STALE:  # changed meanwhile: their version is the one to change
            form.values["etag"] = current.etag
        return _edit_page(request, current.data, form, 409 if outcome == STALE else 400)
    _flash(request, "flash.tender_changed")
    return RedirectResponse(f"/leading/tenders/{tender_id}", status_code=303)


@router.post("/tenders/{tender_id}/cancellation")
async def cancel_tender(request: Request, tender_id: uuid.UUID) -> Response:
    current = await _lead_tender(request, tender_id)
    fields = await read_form(request)
    form = Form.submitted(fields)
    t = Translator(language_of(request))
    if not fields.get("reason", "").strip():
        form.errors["reason"] = t("error.required")
        return await _detail_page(request, current.data, form.failed(), 400)
    try:
        await service.cancel(_api(request), session_of(request), str(tender_id), fields["reason"])
    except ApiProblem as problem:
        if problem.status not in (400, 409, 422):
            raise
        form.apply_problem(t, problem)
        return await _detail_page(request, current.data, form, 400)
    _flash(request, "flash.tender_cancelled")
    return RedirectResponse(f"/leading/tenders/{tender_id}", status_code=303)


@router.get("/tenders/{tender_id}/ocds.json")
async def ocds(request: Request, tender_id: uuid.UUID) -> Response:
    await _lead_tender(request, tender_id)
    result = await service.download(_api(request), session_of(request), str(tender_id), "ocds")
    body = json.dumps(result.data, ensure_ascii=False, indent=2)
    return attachment(body, f"ocds-{tender_id}.json", "application/json")


@router.get("/tenders/{tender_id}/demand.csv")
async def demand_csv(request: Request, tender_id: uuid.UUID) -> Response:
    await _lead_tender(request, tender_id)
    result = await service.download(_api(request), session_of(request), str(tender_id), "csv")
    return csv_response(str(result.data), f"demand-{tender_id}.csv")
