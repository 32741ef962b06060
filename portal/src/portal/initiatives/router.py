"""Initiatives (public, ranked by support) with pledge and withdraw for municipal staff;
the municipality's decisions ahead and costs."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import Api, ApiProblem
from ..municipality.service import my_organisation
from ..web.access import Forbidden, require_person
from ..web.forms import Form, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from ..web.values import amount, payload
from . import service

router = APIRouter(prefix="/initiatives")
ROLE = "registry-editor"
OPERATOR_ROLE = "platform-admin"
FORM_ERRORS = (400, 404, 409, 422)


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def _is_staff(request: Request) -> bool:
    person = session_of(request).data.person
    return bool(person and person.org_type == "municipality" and ROLE in person.roles)


def _may_propose(request: Request) -> bool:
    person = session_of(request).data.person
    return bool(person and person.org_type in service.PROPOSERS and ROLE in person.roles)


def _is_operator(request: Request) -> bool:
    person = session_of(request).data.person
    return bool(person and OPERATOR_ROLE in person.roles)


def _t(request: Request) -> Translator:
    return Translator(language_of(request))


def _done(request: Request, key: str, target: str) -> Response:
    session = session_of(request)
    session.data.flash.append(key)
    session.changed()
    return RedirectResponse(target, status_code=303)


async def _list_page(request: Request, form: Form | None = None, status: int = 200) -> Response:
    api = _api(request)
    context: dict[str, Any] = {
        "staff": _is_staff(request),
        "may_propose": _may_propose(request),
        "kinds": service.PLEDGE_KINDS,
    }
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
    body = payload(fields, ("kind",))
    if typed := fields.get("amount", "").strip():
        body["amount"] = amount(typed, language_of(request))
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


# --- proposing an initiative (municipal or cooperation staff) -------------------------


def _require_proposer(request: Request) -> None:
    require_person(request, None, ROLE)
    if not _may_propose(request):
        raise Forbidden


def _propose_page(request: Request, form: Form, status: int = 200) -> Response:
    return render(request, "initiatives/new.html", {"form": form}, status)


@router.get("/new")
async def new_initiative(request: Request) -> Response:
    _require_proposer(request)
    return _propose_page(request, take_pending(request) or Form())


@router.post("/new")
async def propose(request: Request) -> Response:
    _require_proposer(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session = _api(request), session_of(request)
    body = payload(fields, service.PROPOSAL_FIELDS)
    body["proposedById"] = (await my_organisation(api, session))["id"]
    try:
        created = await service.propose(api, session, body, form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        if problem.status == 409:
            # The registry's one conflict here: the slug names another facility.
            form.errors["slug"] = _t(request)("init.slug_taken")
            form.failed()
        else:
            form.apply_problem(_t(request), problem)
        return _propose_page(request, form, 400)
    return _done(request, "flash.initiative_proposed", f"/initiatives/{created.data['facilityId']}")


# --- one initiative: supporters, pilot participants, impact analyses ------------------


async def _initiative_page(
    request: Request,
    facility_id: str,
    pilot_form: Form | None = None,
    analysis_form: Form | None = None,
    status: int = 200,
) -> Response:
    api, session = _api(request), session_of(request)
    staff, operator = _is_staff(request), _is_operator(request)
    person_session = session if session.data.person is not None else None
    context = await service.initiative(api, facility_id, person_session)
    mine = None
    if staff:
        organisation = await my_organisation(api, session)
        context["organisation"] = organisation
        mine = next(
            (p for p in context["participants"] if p["municipality"]["id"] == organisation["id"]),
            None,
        )
    stage = context["initiative"]["stage"]
    context.update(
        staff=staff,
        operator=operator,
        mine=mine,
        may_join=staff and stage == "pilot" and mine is None,
        may_record=operator and stage in service.SHAPING,
        outcomes=service.OUTCOMES,
        pilot_form=pilot_form or Form(),
        analysis_form=analysis_form or take_pending(request) or Form(),
    )
    return render(request, "initiatives/initiative.html", context, status)


@router.get("/{facility_id}")
async def initiative(request: Request, facility_id: uuid.UUID) -> Response:
    return await _initiative_page(request, str(facility_id))


@router.post("/{facility_id}/pilot-participants")
async def join_pilot(request: Request, facility_id: uuid.UUID) -> Response:
    require_person(request, "municipality", ROLE)
    fields = await read_form(request)
    form = Form.submitted(fields)
    api, session, fid = _api(request), session_of(request), str(facility_id)
    organisation = await my_organisation(api, session)
    try:
        await service.join_pilot(api, session, fid, organisation["id"], form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(_t(request), problem)
        return await _initiative_page(request, fid, pilot_form=form, status=400)
    return _done(request, "flash.pilot_joined", f"/initiatives/{fid}")


@router.post("/{facility_id}/pilot-participants/{participant_id}/leave")
async def leave_pilot(
    request: Request, facility_id: uuid.UUID, participant_id: uuid.UUID
) -> Response:
    require_person(request, "municipality", ROLE)
    await read_form(request)
    fid = str(facility_id)
    await service.leave_pilot(_api(request), session_of(request), fid, str(participant_id))
    return _done(request, "flash.pilot_left", f"/initiatives/{fid}")


@router.post("/{facility_id}/impact-analyses")
async def record_analysis(request: Request, facility_id: uuid.UUID) -> Response:
    require_person(request, None, OPERATOR_ROLE)
    fields = await read_form(request)
    form = Form.submitted(fields)
    fid = str(facility_id)
    body = payload(fields, service.ANALYSIS_FIELDS)
    try:
        await service.record_analysis(
            _api(request), session_of(request), fid, body, form.idempotency_key
        )
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(_t(request), problem)
        return await _initiative_page(request, fid, analysis_form=form, status=400)
    return _done(request, "flash.analysis_recorded", f"/initiatives/{fid}")
