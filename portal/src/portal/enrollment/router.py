"""Municipal buyers (eHerkenning, "deelname gezamenlijke aanbesteding"): open joint
tenders; enroll per lot with the start date proposed from the contract end and sign the
mandate (level substantial: a lower session steps up and comes back with its input);
the signed mandate; withdrawal before the window closes."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import Api, ApiProblem
from ..sessions.schemas import loa_rank
from ..web.access import require_level, require_person
from ..web.forms import Form, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from . import service

router = APIRouter(prefix="/enrollment")
ROLE = "procurement-enroller"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def _buyer(request: Request) -> None:
    require_person(request, "municipality", ROLE)


def _flash(request: Request, key: str) -> None:
    session = session_of(request)
    session.data.flash.append(key)
    session.changed()


@router.get("")
async def tenders(request: Request) -> Response:
    _buyer(request)
    items = await service.open_tenders(_api(request), session_of(request))
    return render(request, "enrollment/tenders.html", {"tenders": items})


async def _page(request: Request, tender_id: str, form: Form | None, status: int = 200) -> Response:
    api, session = _api(request), session_of(request)
    tender = await service.tender(api, session, tender_id)
    enrollment, etag = await service.my_enrollment(api, session, tender_id)
    if enrollment is not None and form is None:
        return render(
            request,
            "enrollment/enrolled.html",
            {"tender": tender, "enrollment": enrollment, "etag": etag, "form": Form()},
            status,
        )
    if form is None:
        start = await service.proposed_start(api, session, tender)
        form = Form(values={f"start-{lot['id']}": start for lot in tender["lots"]})
    person = session.data.person
    low = person is None or loa_rank(person.acr) < loa_rank(SUBSTANTIAL)
    context = {
        "tender": tender,
        "form": form,
        "needs_step_up": low,
        "not_open_yet": service.not_open_yet(tender),
    }
    return render(request, "enrollment/enroll.html", context, status)


@router.get("/{tender_id}")
async def tender_page(request: Request, tender_id: str) -> Response:
    _buyer(request)
    return await _page(request, tender_id, take_pending(request))


@router.post("/{tender_id}")
async def enroll(request: Request, tender_id: str) -> Response:
    _buyer(request)
    fields = await read_form(request)
    # after read_form: a step-up keeps what was typed and brings the person back here
    require_level(request, SUBSTANTIAL)
    form = Form.submitted(fields)
    api, session = _api(request), session_of(request)
    tender = await service.tender(api, session, tender_id)
    body, names = service.enrollment_body(fields, [lot["id"] for lot in tender["lots"]])
    if not body["lots"]:
        # Said here in words; the API would only say the list is too short.
        form.errors["lots"] = Translator(language_of(request))("enroll.no_lot")
        return await _page(request, tender_id, form.failed(), 400)
    try:
        await service.enroll(api, session, tender_id, body, form.idempotency_key)
    except ApiProblem as problem:
        if problem.status not in (400, 409, 422):
            raise
        form.apply_problem(Translator(language_of(request)), problem, names)
        return await _page(request, tender_id, form, 400)
    _flash(request, "flash.enrolled")
    return RedirectResponse(f"/enrollment/{tender_id}", status_code=303)


@router.post("/{tender_id}/withdrawal")
async def withdraw(request: Request, tender_id: str) -> Response:
    _buyer(request)
    fields = await read_form(request)
    api, session = _api(request), session_of(request)
    try:
        await service.withdraw(
            api, session, tender_id, fields.get("enrollment", ""), fields.get("etag", "")
        )
    except ApiProblem as problem:
        if problem.status not in (409, 412):
            raise
        _flash(request, f"flash.withdraw_{problem.status}")
        return RedirectResponse(f"/enrollment/{tender_id}", status_code=303)
    _flash(request, "flash.withdrawn")
    return RedirectResponse(f"/enrollment/{tender_id}", status_code=303)
