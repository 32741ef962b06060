"""Supplier staff record, change and withdraw a vulnerability in versions of their
offering (the platform operator may change and withdraw too, as the registry allows, and
sees every vulnerability with how many municipalities are exposed); municipal staff see
"am I exposed?"."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import Api, ApiProblem, ApiResult
from ..sessions.schemas import Person
from ..supplier import service as supplier
from ..supplier.router import own_offering
from ..web.access import require_person
from ..web.forms import FORM_ERRORS, REFUSED, STALE, Form, submit_change, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from . import service

router = APIRouter()
ROLE = "registry-editor"
OPERATOR_ROLE = "platform-admin"
OPERATOR_LIST = "/operator/vulnerabilities"


def _editor(request: Request) -> Person:
    """The offering's supplier staff (the registry checks it is their offering) or the
    platform operator."""
    person = require_person(request)
    if OPERATOR_ROLE in person.roles:
        return person
    return require_person(request, "supplier", ROLE)


def _back(request: Request, offering_id: str) -> str:
    """Where the person came from: the operator's list or the supplier's offering page."""
    person = session_of(request).data.person
    if person is not None and person.org_type != "supplier" and OPERATOR_ROLE in person.roles:
        return OPERATOR_LIST
    return f"/supplier/offerings/{offering_id}"


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


async def _offering(request: Request, offering_id: str) -> ApiResult:
    """The offering in the address: the operator's any, a supplier's only its own (403)."""
    person = session_of(request).data.person
    if person is not None and OPERATOR_ROLE in person.roles:
        return await supplier.offering(_api(request), session_of(request), offering_id)
    return await own_offering(request, offering_id)


async def _records(
    request: Request, offering_id: str, vulnerability_id: str
) -> tuple[ApiResult, ApiResult]:
    """The offering and the vulnerability, which must be recorded in that offering (404
    otherwise: never another's vulnerability under this offering)."""
    offering = await _offering(request, offering_id)
    current = await service.vulnerability(_api(request), session_of(request), vulnerability_id)
    if current.data.get("offeringId") != offering_id:
        raise HTTPException(404)
    return offering, current


async def _form_page(request: Request, offering_id: str, form: Form, status: int = 200) -> Response:
    api, session = _api(request), session_of(request)
    offering = await own_offering(request, offering_id)
    versions = await supplier.versions(api, session, offering_id)
    context = {"form": form, "offering": offering.data, "versions": versions,
               "box": service.VERSION_BOX}  # fmt: skip
    return render(request, "vulnerabilities/new.html", context, status)


@router.get("/supplier/offerings/{offering_id}/vulnerabilities/new")
async def new_vulnerability(request: Request, offering_id: uuid.UUID) -> Response:
    require_person(request, "supplier", ROLE)
    return await _form_page(request, str(offering_id), take_pending(request) or Form())


@router.post("/supplier/offerings/{offering_id}/vulnerabilities/new")
async def record_vulnerability(request: Request, offering_id: uuid.UUID) -> Response:
    require_person(request, "supplier", ROLE)
    await own_offering(request, str(offering_id))
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session, oid = _api(request), session_of(request), str(offering_id)
    body = service.body_of(fields, await supplier.versions(api, session, oid))
    try:
        await service.record(api, session, oid, body, form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        mapping = {service.VERSIONS_FIELD: service.VERSIONS_FIELD}
        form.apply_problem(Translator(language_of(request)), problem, mapping)
        return await _form_page(request, oid, form, 400)
    session.data.flash.append("flash.vulnerability_recorded")
    session.changed()
    return RedirectResponse(f"/supplier/offerings/{oid}", status_code=303)


async def _withdraw_page(
    request: Request, offering_id: str, vulnerability_id: str, form: Form | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    offering, current = await _records(request, offering_id, vulnerability_id)
    form = form or Form()
    form.values["etag"] = current.etag
    context = {"form": form, "offering": offering.data, "vulnerability": current.data,
               "back": _back(request, offering_id)}  # fmt: skip
    return render(request, "vulnerabilities/withdraw.html", context, status)


@router.get("/supplier/offerings/{offering_id}/vulnerabilities/{vulnerability_id}")
async def vulnerability(
    request: Request, offering_id: uuid.UUID, vulnerability_id: uuid.UUID
) -> Response:
    _editor(request)
    return await _withdraw_page(request, str(offering_id), str(vulnerability_id))


@router.post("/supplier/offerings/{offering_id}/vulnerabilities/{vulnerability_id}")
async def withdraw_vulnerability(
    request: Request, offering_id: uuid.UUID, vulnerability_id: uuid.UUID
) -> Response:
    _editor(request)
    oid, vid = str(offering_id), str(vulnerability_id)
    await _records(request, oid, vid)
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session = _api(request), session_of(request)
    t = Translator(language_of(request))
    withdrawal = service.withdraw(
        api, session, vid, fields.get("reason", ""), fields.get("etag", "")
    )
    outcome = await submit_change(t, form, withdrawal)
    if outcome is not None:
        return await _withdraw_page(request, oid, vid, form, 409 if outcome == STALE else 400)
    session.data.flash.append("flash.vulnerability_withdrawn")
    session.changed()
    return RedirectResponse(_back(request, oid), status_code=303)


async def _change_page(
    request: Request, offering_id: str, vulnerability_id: str, form: Form | None = None,
    status: int = 200, newer: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    api, session = _api(request), session_of(request)
    offering, current = await _records(request, offering_id, vulnerability_id)
    versions = await supplier.versions(api, session, offering_id)
    if form is None:
        form = Form(values=service.as_form(current.data))
        if language_of(request) == "nl":  # as the person would type it; both are accepted
            form.values["cvssScore"] = form.values["cvssScore"].replace(".", ",")
    if newer is not None or not form.value("etag"):
        form.values["etag"] = current.etag
    context = {"form": form, "offering": offering.data, "vulnerability": current.data,
               "versions": versions, "box": service.VERSION_BOX, "newer": newer,
               "back": _back(request, offering_id)}  # fmt: skip
    return render(request, "vulnerabilities/change.html", context, status)


@router.get("/supplier/offerings/{offering_id}/vulnerabilities/{vulnerability_id}/change")
async def change_page(
    request: Request, offering_id: uuid.UUID, vulnerability_id: uuid.UUID
) -> Response:
    _editor(request)
    return await _change_page(request, str(offering_id), str(vulnerability_id))


@router.post("/supplier/offerings/{offering_id}/vulnerabilities/{vulnerability_id}/change")
async def change_vulnerability(
    request: Request, offering_id: uuid.UUID, vulnerability_id: uuid.UUID
) -> Response:
    _editor(request)
    oid, vid = str(offering_id), str(vulnerability_id)
    await _records(request, oid, vid)
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session = _api(request), session_of(request)
    t = Translator(language_of(request))
    versions = await supplier.versions(api, session, oid)
    body = service.body_of(fields, versions, patch=True)
    change = service.change(api, session, vid, body, fields.get("etag", ""))
    mapping = {service.VERSIONS_FIELD: service.VERSIONS_FIELD}
    outcome = await submit_change(t, form, change, mapping)
    if outcome == STALE:
        newer = await service.vulnerability(api, session, vid)
        form.values[service.AFFECTED] = service.ticked(fields, versions)
        shown = {k: v for k, v in service.as_form(newer.data).items()
                 if k in (*service.PATCH_FIELDS, service.AFFECTED)}  # fmt: skip
        return await _change_page(request, oid, vid, form, 409, shown)
    if outcome == REFUSED:
        return await _change_page(request, oid, vid, form, 400)
    session.data.flash.append("flash.vulnerability_changed")
    session.changed()
    return RedirectResponse(_back(request, oid), status_code=303)


@router.get(OPERATOR_LIST)
async def all_vulnerabilities(request: Request) -> Response:
    require_person(request, None, OPERATOR_ROLE)
    data = await service.all_with_exposure(_api(request), session_of(request))
    return render(request, "vulnerabilities/all.html", data)


@router.get("/municipality/exposures")
async def exposures(request: Request) -> Response:
    require_person(request, "municipality", ROLE)
    data = await service.exposures(_api(request), session_of(request))
    return render(request, "vulnerabilities/exposures.html", data)
