"""Municipal staff (eHerkenning, "beheer gebruik voorzieningen"): the municipality's
facilities with contract end and notice deadline; add, change and end a usage; the
contract-expiry radar for 24 months (SVG + table) and its CSV; usages imported from a
CSV file (checked first, a report per row); the registry's exports downloaded."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from servicekit.csvfiles import attachment, csv_response

from ..api import Api, ApiProblem, ApiResult
from ..web.access import Forbidden, require_person
from ..web.forms import REFUSED, STALE, Form, human_reason, submit_change, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form, read_form_with_files
from ..web.templating import render, session_of
from ..web.values import as_fields, payload
from . import radar as radar_chart
from . import service

router = APIRouter(prefix="/municipality")
ROLE = "registry-editor"
STATUSES = ("planned", "active", "ended")
BANDS = ("under-50k", "50k-215k", "215k-750k", "750k-5m", "over-5m")


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def _staff(request: Request) -> None:
    require_person(request, "municipality", ROLE)


async def _own_usage(request: Request, usage_id: str) -> ApiResult:
    """The usage with its ETag, only when it is the person's municipality's: another
    municipality's usage gets the 403 page, never its change form."""
    api, session = _api(request), session_of(request)
    current = await service.read(api, session, usage_id)
    organisation = await service.my_organisation(api, session)
    if current.data.get("municipalityId") != organisation["id"]:
        raise Forbidden()
    return current


def _flash(request: Request, key: str) -> None:
    session = session_of(request)
    session.data.flash.append(key)
    session.changed()


@router.get("/usages")
async def usages(request: Request) -> Response:
    _staff(request)
    data = await service.usages(_api(request), session_of(request))
    return render(request, "municipality/usages.html", data)


async def _form_page(request: Request, form: Form, status: int = 200) -> Response:
    lists = await service.choices(_api(request))
    return render(
        request,
        "municipality/usage_new.html",
        {"form": form, "statuses": STATUSES, "bands": BANDS, **lists},
        status,
    )


@router.get("/usages/new")
async def new_usage(request: Request, facilityId: str = "") -> Response:
    _staff(request)
    form = take_pending(request) or Form(values={"facilityId": facilityId, "status": "active"})
    return await _form_page(request, form)


@router.post("/usages/new")
async def create_usage(request: Request) -> Response:
    _staff(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, service.USAGE_FIELDS, numbers=("noticePeriodMonths",))
    try:
        await service.create(_api(request), session_of(request), body, form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in (400, 409, 422):
            raise
        form.apply_problem(Translator(language_of(request)), problem)
        return await _form_page(request, form, 400)
    _flash(request, "flash.usage_created")
    return RedirectResponse("/municipality/usages", status_code=303)


async def _import_page(
    request: Request,
    form: Form,
    status: int = 200,
    problems: list[dict[str, str]] | None = None,
    report: dict[str, object] | None = None,
) -> Response:
    t = Translator(language_of(request))
    # A file's dates are ISO dates, not what a date field on a form takes.
    csv_reasons = {t("error.date"): t("imp.date")}
    shown = []
    for problem in problems or []:
        reason = human_reason(t, problem["reason"])
        shown.append({**problem, "reason": csv_reasons.get(reason, reason)})
    return render(
        request,
        "municipality/usage_import.html",
        {"form": form, "problems": shown, "report": report, "columns": service.IMPORT_COLUMNS},
        status,
    )


@router.get("/usages/import")
async def import_form(request: Request) -> Response:
    _staff(request)
    return await _import_page(request, Form(values={"csv": ""}))


@router.post("/usages/import")
async def import_usages(request: Request) -> Response:
    _staff(request)
    fields, files = await read_form_with_files(request)
    form = Form.submitted(fields)
    t = Translator(language_of(request))
    upload = files.get("file")
    if upload is not None and upload.content:
        try:
            form.values["csv"] = upload.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            form.errors["file"] = t("imp.not_utf8")
            return await _import_page(request, form.failed(), 400)
    text = form.value("csv")
    if not text.strip():
        form.errors["csv"] = t("error.required")
        return await _import_page(request, form.failed(), 400)
    dry_run = fields.get("action") != "import"
    try:
        report = await service.import_usages(
            _api(request),
            session_of(request),
            text.encode(),
            dry_run=dry_run,
            idempotency_key=form.idempotency_key,
        )
    except ApiProblem as problem:
        if problem.status not in (400, 409, 413, 415, 422):
            raise
        problems = service.row_problems(problem)
        rows = len({p["line"] for p in problems})
        form.general.append(t("imp.invalid", count=len(problems), rows=rows))
        return await _import_page(request, form.failed(), 400, problems)
    if dry_run:
        return await _import_page(request, form, report=report)
    _flash(request, "flash.usages_imported")
    return RedirectResponse("/municipality/usages", status_code=303)


@router.get("/downloads/{name}")
async def download(request: Request, name: str) -> Response:
    _staff(request)
    if name not in service.DOWNLOADS:
        raise ApiProblem(404, "Not found", "No such download.")
    body, media, filename = await service.download(_api(request), session_of(request), name)
    return attachment(body, filename, media)


async def _edit_page(
    request: Request,
    usage_id: str,
    form: Form | None = None,
    status: int = 200,
    newer: dict[str, str] | None = None,
) -> Response:
    api = _api(request)
    current = await _own_usage(request, usage_id)
    usage = current.data
    facility = await api.get(f"{service.REGISTRY}/facilities/{usage['facilityId']}")
    lists = await service.choices(api)
    if form is None:
        form = take_pending(request) or Form(values=as_fields(usage, service.PATCH_FIELDS))
        form.values["etag"] = current.etag
    elif newer is not None:
        # Sending the form again now applies this person's input to the newer version.
        form.values["etag"] = current.etag
    return render(
        request,
        "municipality/usage_edit.html",
        {
            "form": form,
            "usage": usage,
            "facility": facility,
            "newer": newer,
            "statuses": STATUSES,
            "bands": BANDS,
            **lists,
        },
        status,
    )


@router.get("/usages/{usage_id}")
async def edit_usage(request: Request, usage_id: uuid.UUID) -> Response:
    _staff(request)
    return await _edit_page(request, str(usage_id))


@router.post("/usages/{usage_id}")
async def change_usage(request: Request, usage_id: uuid.UUID) -> Response:
    _staff(request)
    await _own_usage(request, str(usage_id))
    fields = await read_form(request)
    form = Form.submitted(fields)
    end = fields.get("action") == "end"
    body = (
        {"status": "ended"}
        if end
        else payload(fields, service.PATCH_FIELDS, numbers=("noticePeriodMonths",), patch=True)
    )
    api, session = _api(request), session_of(request)
    change = service.change(api, session, str(usage_id), body, fields.get("etag", ""))
    outcome = await submit_change(Translator(language_of(request)), form, change)
    if outcome == STALE:
        # Someone changed it meanwhile: show their version, keep this person's input.
        current = await service.read(api, session, str(usage_id))
        newer = as_fields(current.data, service.PATCH_FIELDS)
        return await _edit_page(request, str(usage_id), form, 409, newer)
    if outcome == REFUSED:
        return await _edit_page(request, str(usage_id), form, 400)
    _flash(request, "flash.usage_ended" if end else "flash.usage_changed")
    return RedirectResponse("/municipality/usages", status_code=303)


@router.get("/radar")
async def radar(request: Request) -> Response:
    _staff(request)
    data = await service.radar(_api(request), session_of(request))
    t = Translator(language_of(request))
    months = [t(f"month.{m}") for m in range(1, 13)]
    chart = radar_chart.chart(data["items"], date.today(), months)
    return render(request, "municipality/radar.html", {**data, "chart": chart})


@router.get("/radar.csv")
async def radar_csv(request: Request) -> Response:
    _staff(request)
    data = await service.radar(_api(request), session_of(request))
    filename = f"radar-{data['organisation'].get('cbsCode') or 'municipality'}-{date.today()}.csv"
    return csv_response(radar_chart.as_csv(data["items"]), filename)
