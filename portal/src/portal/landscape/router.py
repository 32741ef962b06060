"""Municipal staff: our landscape of offerings and their integrations. Supplier staff:
record an integration of their offering."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import ApiProblem
from ..supplier import service as supplier
from ..web.access import require_person
from ..web.forms import Form, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from . import service

FORM_ERRORS = (400, 409, 422)

router = APIRouter()


@router.get("/municipality/landscape")
async def landscape(request: Request) -> Response:
    require_person(request, "municipality", "registry-editor")
    data = await service.landscape(request.app.state.api, session_of(request))
    return render(request, "landscape/landscape.html", data)


async def _form_page(request: Request, offering_id: str, form: Form, status: int = 200) -> Response:
    api, session = request.app.state.api, session_of(request)
    offering = await supplier.offering(api, session, offering_id)
    context = {
        "form": form,
        "offering": offering.data,
        "targets": await service.targets(api, session, offering_id),
        "kinds": service.KINDS,
        "directions": service.DIRECTIONS,
        "statuses": service.STATUSES,
    }
    return render(request, "landscape/integration_new.html", context, status)


@router.get("/supplier/offerings/{offering_id}/integrations/new")
async def new_integration(request: Request, offering_id: uuid.UUID) -> Response:
    require_person(request, "supplier", "registry-editor")
    form = take_pending(request) or Form(values={"status": "active", "direction": "one-way"})
    return await _form_page(request, str(offering_id), form)


@router.post("/supplier/offerings/{offering_id}/integrations/new")
async def record_integration(request: Request, offering_id: uuid.UUID) -> Response:
    require_person(request, "supplier", "registry-editor")
    fields = await read_form(request)
    form = Form.submitted(fields)
    session, oid = session_of(request), str(offering_id)
    try:
        await service.record(request.app.state.api, session, oid, fields, form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(Translator(language_of(request)), problem)
        return await _form_page(request, oid, form, 400)
    session.data.flash.append("flash.integration_recorded")
    session.changed()
    return RedirectResponse(f"/supplier/offerings/{oid}", status_code=303)
