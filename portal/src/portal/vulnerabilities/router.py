"""Supplier staff record a vulnerability in versions of their offering; municipal staff
see "am I exposed?"."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import Api, ApiProblem
from ..supplier import service as supplier
from ..web.access import require_person
from ..web.forms import Form, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from . import service

router = APIRouter()
ROLE = "registry-editor"
FORM_ERRORS = (400, 409, 422)


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


async def _form_page(request: Request, offering_id: str, form: Form, status: int = 200) -> Response:
    api, session = _api(request), session_of(request)
    offering = await supplier.offering(api, session, offering_id)
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


@router.get("/municipality/exposures")
async def exposures(request: Request) -> Response:
    require_person(request, "municipality", ROLE)
    data = await service.exposures(_api(request), session_of(request))
    return render(request, "vulnerabilities/exposures.html", data)
