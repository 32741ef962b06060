"""Platform operator (eHerkenning, "platformbeheer"): register and change facilities, move
them forward in their lifecycle, see the relying parties registered at identity, load
population figures, and merge municipalities (a preview first; then the registry records
the merger and procurement moves the enrollments)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import Api, ApiProblem, ApiUnavailable
from ..municipality.service import row_problems
from ..web.access import require_person
from ..web.forms import (
    FORM_ERRORS,
    REFUSED,
    STALE,
    Form,
    human_reason,
    problem_message,
    submit_change,
    take_pending,
)
from ..web.i18n import Translator, language_of
from ..web.security import read_form, read_form_with_files
from ..web.templating import render, session_of
from ..web.values import as_fields, payload
from . import service

router = APIRouter(prefix="/operator")
ROLE = "platform-admin"


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def _admin(request: Request) -> None:
    require_person(request, None, ROLE)


def _t(request: Request) -> Translator:
    return Translator(language_of(request))


def _done(request: Request, key: str, target: str) -> Response:
    session = session_of(request)
    session.data.flash.append(key)
    session.changed()
    return RedirectResponse(target, status_code=303)


@router.get("/facilities")
async def facilities(request: Request) -> Response:
    _admin(request)
    items = await service.facilities(_api(request), session_of(request))
    return render(request, "operator/facilities.html", {"facilities": items})


def _new_page(request: Request, form: Form, status: int = 200) -> Response:
    context = {"form": form, "kinds": service.KINDS, "stages": service.STAGES}
    return render(request, "operator/facility_new.html", context, status)


@router.get("/facilities/new")
async def new_facility(request: Request) -> Response:
    _admin(request)
    return _new_page(request, take_pending(request) or Form(values={"stage": "initiative"}))


@router.post("/facilities/new")
async def create_facility(request: Request) -> Response:
    _admin(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, service.FACILITY_FIELDS, lists=("standards",))
    try:
        created = await service.create_facility(
            _api(request), session_of(request), body, form.idempotency_key
        )
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(_t(request), problem)
        return _new_page(request, form, 400)
    return _done(request, "flash.facility_created", f"/operator/facilities/{created.data['id']}")


async def _facility_page(
    request: Request,
    facility_id: str,
    form: Form | None = None,
    stage_form: Form | None = None,
    status: int = 200,
    newer: dict[str, str] | None = None,
) -> Response:
    api, session = _api(request), session_of(request)
    current = await service.facility(api, session, facility_id)
    facility = current.data
    history = await service.transitions(api, session, facility_id)
    if form is None:
        form = take_pending(request) or Form(values=as_fields(facility, service.FACILITY_PATCH))
        form.values["etag"] = current.etag
    elif newer is not None:
        form.values["etag"] = current.etag
    context = {
        "form": form,
        "stage_form": stage_form or Form(),
        "facility": facility,
        "history": history,
        "later": service.later_stages(facility["stage"]),
        "kinds": service.KINDS,
        "newer": newer,
    }
    return render(request, "operator/facility.html", context, status)


@router.get("/facilities/{facility_id}")
async def facility(request: Request, facility_id: uuid.UUID) -> Response:
    _admin(request)
    return await _facility_page(request, str(facility_id))


@router.post("/facilities/{facility_id}")
async def change_facility(request: Request, facility_id: uuid.UUID) -> Response:
    _admin(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, service.FACILITY_PATCH, lists=("standards",), patch=True)
    api, session, fid = _api(request), session_of(request), str(facility_id)
    change = service.change_facility(api, session, fid, body, fields.get("etag", ""))
    outcome = await submit_change(_t(request), form, change)
    if outcome == STALE:
        newer = await service.facility(api, session, fid)
        fields_now = as_fields(newer.data, service.FACILITY_PATCH)
        return await _facility_page(request, fid, form, None, 409, fields_now)
    if outcome == REFUSED:
        return await _facility_page(request, fid, form, None, 400)
    return _done(request, "flash.facility_changed", f"/operator/facilities/{fid}")


@router.post("/facilities/{facility_id}/stage")
async def move_stage(request: Request, facility_id: uuid.UUID) -> Response:
    _admin(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, ("toStage", "reason"))
    fid = str(facility_id)
    try:
        await service.move_stage(
            _api(request), session_of(request), fid, body, form.idempotency_key
        )
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(_t(request), problem)
        return await _facility_page(request, fid, None, form, 400)
    return _done(request, "flash.stage_moved", f"/operator/facilities/{fid}")


@router.get("/clients")
async def clients(request: Request) -> Response:
    _admin(request)
    items = await service.clients(_api(request), session_of(request))
    return render(request, "operator/clients.html", {"clients": items})


TWICE = re.compile(r"listed twice \(row (\d+)\)")


def _csv_reason(t: Translator, reason: str) -> str:
    twice = TWICE.search(reason)
    return t("error.listed_twice", row=twice.group(1)) if twice else human_reason(t, reason)


async def _population_page(
    request: Request,
    form: Form | None = None,
    report: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    figures = await service.population_figures(_api(request), session_of(request))
    context = {
        "form": form or Form(values={"dryRun": "on"}),
        "figures": figures,
        "report": report,
        "columns": ("code", "inhabitants", "year", "source"),
    }
    return render(request, "operator/population.html", context, status)


@router.get("/population")
async def population(request: Request) -> Response:
    _admin(request)
    return await _population_page(request)


@router.post("/population")
async def import_population(request: Request) -> Response:
    _admin(request)
    fields, files = await read_form_with_files(request)
    form = Form.submitted(fields)
    t = _t(request)
    upload = files.get("file")
    if upload is None or not upload.content:
        form.errors["file"] = t("pop.file_missing")
        return await _population_page(request, form.failed(), None, 400)
    dry_run = fields.get("dryRun") == "on"
    api, session = _api(request), session_of(request)
    try:
        result = await service.import_population(
            api, session, upload.content, dry_run, form.idempotency_key
        )
    except ApiProblem as problem:
        if problem.status not in (400, 413, 415, 422):
            raise
        problems = row_problems(problem)
        whole = [_csv_reason(t, p["reason"]) for p in problems if not p["line"]]
        if problem.status != 400 or not problems:
            whole.append(problem_message(t, problem))
        form.errors["file"] = t("pop.file_refused", name=upload.filename)
        report = {
            "filename": upload.filename,
            "result": None,
            "rows": [
                (p["line"], p["column"], _csv_reason(t, p["reason"])) for p in problems if p["line"]
            ],
            "whole": whole,
        }
        return await _population_page(request, form.failed(), report, 400)
    report = {"filename": upload.filename, "result": result.data}
    # A new form: a stored file is done; after a dry run the same file can now be stored.
    return await _population_page(request, Form(values={"dryRun": ""}), report, 200)


# --- municipal mergers -------------------------------------------------------------------

MERGER_FIELDS = {"successorId": "successor", "effectiveDate": "effectiveDate"}


async def _mergers_page(
    request: Request,
    form: Form | None = None,
    preview: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    items = await service.mergers(_api(request), session_of(request))
    context = {"form": form or Form(), "mergers": items, "preview": preview}
    return render(request, "operator/mergers.html", context, status)


@router.get("/mergers")
async def mergers(request: Request) -> Response:
    _admin(request)
    return await _mergers_page(request)


async def _municipalities(
    request: Request, form: Form, field: str, codes: list[str]
) -> list[dict[str, Any]]:
    """The municipalities with these CBS codes; unknown ones are messages at ``field``."""
    found = []
    for code in codes:
        known = service.CBS_CODE.match(code) and await service.municipality_by_code(
            _api(request), session_of(request), code
        )
        if not known:
            form.errors.setdefault(field, _t(request)("merge.unknown_code", code=code))
        else:
            found.append(known)
    if not codes:
        form.errors.setdefault(field, _t(request)("error.required"))
    return found


@router.post("/mergers")
async def merge(request: Request) -> Response:
    _admin(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    t = _t(request)
    codes = [c.upper() for c in re.split(r"[\s,;]+", form.value("predecessors")) if c]
    predecessors = await _municipalities(request, form, "predecessors", codes)
    code = form.value("successor").strip().upper()
    successor = await _municipalities(request, form, "successor", [code] if code else [])
    if not form.value("effectiveDate"):
        form.errors["effectiveDate"] = t("error.required")
    if form.errors:
        return await _mergers_page(request, form.failed(), None, 400)
    body = {
        "predecessorIds": [p["id"] for p in predecessors],
        "successorId": successor[0]["id"],
        "effectiveDate": form.value("effectiveDate"),
    }
    dry_run = fields.get("action") != "merge"
    api, session = _api(request), session_of(request)
    try:
        result = await service.merge(api, session, body, dry_run=dry_run, key=form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        named = {f"predecessorIds[{i}]": "predecessors" for i in range(len(predecessors))}
        form.apply_problem(t, problem, {**named, "predecessorIds": "predecessors", **MERGER_FIELDS})
        return await _mergers_page(request, form, None, 400)
    if dry_run:
        result["names"] = {o["id"]: o["name"] for o in (*predecessors, *successor)}
        return await _mergers_page(request, form, result)
    try:
        await service.apply_to_enrollments(api, session, result["id"])
        flash = "flash.merged"
    except (ApiProblem, ApiUnavailable):
        flash = "flash.merged_enrollments_pending"
    return _done(request, flash, f"/operator/mergers/{result['id']}")


@router.get("/mergers/{merger_id}")
async def merger(request: Request, merger_id: uuid.UUID) -> Response:
    _admin(request)
    found = await service.merger(_api(request), session_of(request), str(merger_id))
    return render(request, "operator/merger.html", {"merger": found, "form": Form()})


@router.post("/mergers/{merger_id}/enrollments")
async def apply_to_enrollments(request: Request, merger_id: uuid.UUID) -> Response:
    _admin(request)
    await read_form(request)
    await service.apply_to_enrollments(_api(request), session_of(request), str(merger_id))
    return _done(request, "flash.merged", f"/operator/mergers/{merger_id}")
