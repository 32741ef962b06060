"""Supplier staff (eHerkenning, "beheer aanbod"): my offerings; register an offering for a
facility; change it; add and change its versions with their end of support. A concurrent
change (412 on If-Match) shows the newer data next to the person's input."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api import Api, ApiProblem, ApiResult
from ..catalogue.service import integrations_of
from ..vulnerabilities.service import of_offering as recorded_vulnerabilities
from ..web.access import Forbidden, require_person
from ..web.forms import FORM_ERRORS, REFUSED, STALE, Form, submit_change, take_pending
from ..web.i18n import Translator, language_of
from ..web.security import read_form
from ..web.templating import render, session_of
from ..web.values import as_fields, payload
from . import service

router = APIRouter(prefix="/supplier")
ROLE = "registry-editor"


def _api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def _staff(request: Request) -> None:
    require_person(request, "supplier", ROLE)


async def own_offering(request: Request, offering_id: str) -> ApiResult:
    """The offering with its ETag, only when it is the person's organisation's: another
    supplier's offering gets the 403 page, never a form."""
    api, session = _api(request), session_of(request)
    current = await service.offering(api, session, offering_id)
    if not await service.is_ours(api, session, current.data):
        raise Forbidden()
    return current


def _done(request: Request, key: str, target: str) -> Response:
    session = session_of(request)
    session.data.flash.append(key)
    session.changed()
    return RedirectResponse(target, status_code=303)


def _t(request: Request) -> Translator:
    return Translator(language_of(request))


@router.get("/offerings")
async def offerings(request: Request) -> Response:
    _staff(request)
    data = await service.offerings(_api(request), session_of(request))
    return render(request, "supplier/offerings.html", data)


async def _new_page(request: Request, form: Form, status: int = 200) -> Response:
    facilities = await service.facilities(_api(request))
    context = {"form": form, "facilities": facilities, "price_models": service.PRICE_MODELS}
    return render(request, "supplier/offering_new.html", context, status)


@router.get("/offerings/new")
async def new_offering(request: Request, facilityId: str = "") -> Response:
    _staff(request)
    form = take_pending(request) or Form(values={"facilityId": facilityId})
    return await _new_page(request, form)


@router.post("/offerings/new")
async def create_offering(request: Request) -> Response:
    _staff(request)
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, service.OFFERING_FIELDS, lists=("standards",))
    try:
        created = await service.create_offering(
            _api(request), session_of(request), body, form.idempotency_key
        )
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(_t(request), problem)
        return await _new_page(request, form, 400)
    target = f"/supplier/offerings/{created.data['id']}"
    return _done(request, "flash.offering_created", target)


async def _offering_page(
    request: Request,
    offering_id: str,
    form: Form | None = None,
    status: int = 200,
    newer: dict[str, str] | None = None,
) -> Response:
    api, session = _api(request), session_of(request)
    current = await own_offering(request, offering_id)
    offering = current.data
    facility = await api.get(f"{service.REGISTRY}/facilities/{offering['facilityId']}")
    versions = await service.versions(api, session, offering_id)
    vulnerabilities = await recorded_vulnerabilities(api, session, offering_id)
    offering_names = await integrations_of(api, [offering])
    if form is None:
        form = take_pending(request) or Form(values=as_fields(offering, service.OFFERING_PATCH))
        form.values["etag"] = current.etag
    elif newer is not None:
        form.values["etag"] = current.etag
    new_version = Form()
    return render(
        request,
        "supplier/offering.html",
        {
            "form": form,
            "offering": offering,
            "facility": facility,
            "versions": versions,
            "vulnerabilities": vulnerabilities,
            "offering_names": offering_names,
            "newer": newer,
            "new_version": new_version,
            "price_models": service.PRICE_MODELS,
        },
        status,
    )


@router.get("/offerings/{offering_id}")
async def offering(request: Request, offering_id: uuid.UUID) -> Response:
    _staff(request)
    return await _offering_page(request, str(offering_id))


@router.post("/offerings/{offering_id}")
async def change_offering(request: Request, offering_id: uuid.UUID) -> Response:
    _staff(request)
    await own_offering(request, str(offering_id))
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, service.OFFERING_PATCH, lists=("standards",), patch=True)
    api, session, oid = _api(request), session_of(request), str(offering_id)
    change = service.change_offering(api, session, oid, body, fields.get("etag", ""))
    outcome = await submit_change(_t(request), form, change)
    if outcome == STALE:
        newer = await service.offering(api, session, oid)
        fields_now = as_fields(newer.data, service.OFFERING_PATCH)
        return await _offering_page(request, oid, form, 409, fields_now)
    if outcome == REFUSED:
        return await _offering_page(request, oid, form, 400)
    return _done(request, "flash.offering_changed", f"/supplier/offerings/{oid}")


async def _version_new_page(
    request: Request, offering_id: str, form: Form, status: int = 200
) -> Response:
    current = await own_offering(request, offering_id)
    context: dict[str, Any] = {"form": form, "offering": current.data}
    return render(request, "supplier/version_new.html", context, status)


@router.get("/offerings/{offering_id}/versions/new")
async def new_version(request: Request, offering_id: uuid.UUID) -> Response:
    _staff(request)
    form = take_pending(request) or Form()
    return await _version_new_page(request, str(offering_id), form)


@router.post("/offerings/{offering_id}/versions/new")
async def create_version(request: Request, offering_id: uuid.UUID) -> Response:
    _staff(request)
    await own_offering(request, str(offering_id))
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, service.VERSION_FIELDS, lists=("standards",))
    oid = str(offering_id)
    try:
        await service.create_version(
            _api(request), session_of(request), oid, body, form.idempotency_key
        )
    except ApiProblem as problem:
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(_t(request), problem)
        return await _version_new_page(request, oid, form, 400)
    return _done(request, "flash.version_created", f"/supplier/offerings/{oid}")


async def _version_page(
    request: Request,
    offering_id: str,
    version_id: str,
    form: Form | None = None,
    status: int = 200,
    newer: dict[str, str] | None = None,
) -> Response:
    api, session = _api(request), session_of(request)
    parent = await own_offering(request, offering_id)
    current = await service.version(api, session, offering_id, version_id)
    if current.data.get("offeringId", offering_id) != offering_id:
        raise HTTPException(404)  # not a version of the offering in the address
    if form is None:
        form = take_pending(request) or Form(values=as_fields(current.data, service.VERSION_PATCH))
        form.values["etag"] = current.etag
    elif newer is not None:
        form.values["etag"] = current.etag
    context = {"form": form, "version": current.data, "offering": parent.data, "newer": newer}
    return render(request, "supplier/version.html", context, status)


@router.get("/offerings/{offering_id}/versions/{version_id}")
async def version(request: Request, offering_id: uuid.UUID, version_id: uuid.UUID) -> Response:
    _staff(request)
    return await _version_page(request, str(offering_id), str(version_id))


@router.post("/offerings/{offering_id}/versions/{version_id}")
async def change_version(
    request: Request, offering_id: uuid.UUID, version_id: uuid.UUID
) -> Response:
    _staff(request)
    await own_offering(request, str(offering_id))
    fields = await read_form(request)
    form = Form.submitted(fields)
    body = payload(fields, service.VERSION_PATCH, lists=("standards",), patch=True)
    api, session = _api(request), session_of(request)
    oid, vid = str(offering_id), str(version_id)
    change = service.change_version(api, session, oid, vid, body, fields.get("etag", ""))
    outcome = await submit_change(_t(request), form, change)
    if outcome == STALE:
        newer = await service.version(api, session, oid, vid)
        fields_now = as_fields(newer.data, service.VERSION_PATCH)
        return await _version_page(request, oid, vid, form, 409, fields_now)
    if outcome == REFUSED:
        return await _version_page(request, oid, vid, form, 400)
    return _done(request, "flash.version_changed", f"/supplier/offerings/{oid}")
