"""Initiatives (public, ranked by support) with pledge and withdraw for municipal staff;
the municipality's decisions ahead and costs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import Api, ApiProblem
from ..municipality.service import my_organisation
from ..web.access import require_person
from ..web.forms import Form
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from ..web.values import payload
from . import service

router = APIRouter(prefix="/initiatives")
ROLE = "registry-editor"


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def _is_staff(request: Request) -> bool:
    person = session_of(request).data.person
    return bool(person and person.org_type == "municipality" and ROLE in person.roles)


async def _list_page(request: Request, form: Form | None = None, status: int = 200) -> Response:
    api = _api(request)
    context: dict[str, Any] = {"staff": _is_staff(request), "kinds": service.PLEDGE_KINDS}
    if context["staff"]:
        session = session_of(request)
        organisation = await my_organisation(api, session)
        initiatives = await service.ranked(api, session)
        context["mine"] = await service.my_pledges(api, session, organisation["id"], initiatives)
        context["organisation"] = organisation
    else:
        initiatives = await service.ranked(api)
        context["mine"] = {}
    context["initiatives"] = initiatives
    context["form"] = form or Form(values={"kind": "interest"})
    return render(request, "initiatives/list.html", context, status)


@router.get("")
async def initiatives(request: Request) -> Response:
    return await _list_page(request)


@router.post("/pledge")
async def pledge(request: Request) -> Response:
    require_person(request, "municipality", ROLE)
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session = _api(request), session_of(request)
    organisation = await my_organisation(api, session)
    body = payload(fields, ("kind", "amount"), numbers=("amount",))
    body["municipalityId"] = organisation["id"]
    if not fields.get("facilityId"):
        # Without it the API path itself would be wrong; say so next to the field.
        form.errors["facilityId"] = Translator(language_of(request))("error.required")
        return await _list_page(request, form, 400)
    try:
        await service.pledge(api, session, fields.get("facilityId", ""), body, form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in (400, 404, 409, 422):
            raise
        form.apply_problem(Translator(language_of(request)), problem)
        return await _list_page(request, form, 400)
    session.data.flash.append("flash.pledge_created")
    session.changed()
    return RedirectResponse("/initiatives", status_code=303)


@router.post("/{facility_id}/pledges/{pledge_id}/withdraw")
async def withdraw(request: Request, facility_id: str, pledge_id: str) -> Response:
    require_person(request, "municipality", ROLE)
    await read_form(request)
    session = session_of(request)
    await service.withdraw(_api(request), session, facility_id, pledge_id)
    session.data.flash.append("flash.pledge_withdrawn")
    session.changed()
    return RedirectResponse("/initiatives", status_code=303)


@router.get("/decisions")
async def decisions(request: Request) -> Response:
    require_person(request, "municipality", ROLE)
    data = await service.decisions(_api(request), session_of(request))
    return render(request, "initiatives/decisions.html", data)
