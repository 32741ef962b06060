"""Municipal staff: our landscape of offerings and their integrations. Supplier staff:
record an integration of their offering, change it and end it (If-Match; its status only
moves forward, a refused step is shown next to the status)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import ApiProblem, ApiResult
from ..supplier import service as supplier
from ..supplier.router import own_offering
from ..web.access import require_person
from ..web.forms import FORM_ERRORS, Form, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from ..web.values import as_fields
from . import service

router = APIRouter()


@router.get("/municipality/landscape")
async def landscape(request: Request) -> Response:
    require_person(request, "municipality", "registry-editor")
    data = await service.landscape(request.app.state.api, session_of(request))
    return render(request, "landscape/landscape.html", data)


async def _form_page(request: Request, offering_id: str, form: Form, status: int = 200) -> Response:
    api, session = request.app.state.api, session_of(request)
    offering = await own_offering(request, offering_id)
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
    await own_offering(request, str(offering_id))
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


async def _records(
    request: Request, offering_id: str, integration_id: str
) -> tuple[ApiResult, ApiResult]:
    """The person's own offering (403 otherwise) and the integration, which must start at
    that offering (404 otherwise: never another's integration under this offering)."""
    offering = await own_offering(request, offering_id)
    current = await service.integration(request.app.state.api, session_of(request), integration_id)
    if current.data.get("sourceOfferingId") != offering_id:
        raise HTTPException(404)
    return offering, current


async def _change_page(
    request: Request, offering_id: str, integration_id: str, form: Form | None = None,
    status: int = 200, newer: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    api, session = request.app.state.api, session_of(request)
    offering, current = await _records(request, offering_id, integration_id)
    target = await supplier.offering(api, session, current.data["targetOfferingId"])
    form = form or Form()
    for name, value in as_fields(current.data, service.PATCH_FIELDS).items():
        form.values.setdefault(name, value)  # the end form sends the status only
    if newer is not None or not form.value("etag"):
        form.values["etag"] = current.etag
    t = Translator(language_of(request))
    labels = {s: t("usage_status." + s) for s in ("planned", "active", "ended")}
    labels |= {d: t("integration_direction." + d) for d in service.DIRECTIONS}
    context = {
        "form": form,
        "offering": offering.data,
        "integration": current.data,
        "target": target.data,
        "directions": service.DIRECTIONS,
        "statuses": service.NEXT_STATUSES[current.data["status"]],
        "newer": newer,
        "value_labels": labels,
    }
    return render(request, "landscape/integration_change.html", context, status)


@router.get("/supplier/offerings/{offering_id}/integrations/{integration_id}")
async def integration(
    request: Request, offering_id: uuid.UUID, integration_id: uuid.UUID
) -> Response:
    require_person(request, "supplier", "registry-editor")
    return await _change_page(request, str(offering_id), str(integration_id))


@router.post("/supplier/offerings/{offering_id}/integrations/{integration_id}")
async def change_integration(
    request: Request, offering_id: uuid.UUID, integration_id: uuid.UUID
) -> Response:
    require_person(request, "supplier", "registry-editor")
    oid, iid = str(offering_id), str(integration_id)
    await _records(request, oid, iid)
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session = request.app.state.api, session_of(request)
    t = Translator(language_of(request))
    try:
        await service.change(api, session, iid, fields, fields.get("etag", ""))
    except ApiProblem as problem:
        if problem.status in (412, 428):
            newer = await service.integration(api, session, iid)
            form.general.append(t("problem.412"))
            shown = as_fields(newer.data, service.PATCH_FIELDS)
            return await _change_page(request, oid, iid, form.failed(), 409, shown)
        if problem.status == 409 and problem.body.get("currentStatus"):
            # The registry refused a step back: say so next to the status, in plain words.
            current = t("usage_status." + problem.body["currentStatus"]).lower()
            form.errors["status"] = t("integration.status_back", status=current)
            return await _change_page(request, oid, iid, form.failed(), 409)
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(t, problem)
        return await _change_page(request, oid, iid, form, 400)
    ended = fields.get("status") == "ended"
    session.data.flash.append("flash.integration_ended" if ended else "flash.integration_changed")
    session.changed()
    return RedirectResponse(f"/supplier/offerings/{oid}", status_code=303)
