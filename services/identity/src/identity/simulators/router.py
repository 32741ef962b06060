"""HTTP face of the simulators: authorize page (choose a test identity and level),
token endpoint, JWKS and discovery, under ``/auth/simulators/<means>/``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..broker.means import LOA_LABELS, MEANS, loa_rank, test_identities
from ..common import add_query
from ..oauth.errors import OAuthError, PageError
from ..oauth.forms import CACHEABLE, NO_STORE, query_dict, read_form
from ..pages import csrf_valid, error_page, pick_lang, render_form
from .idp import SimulatorIdP

# The login's pages first (routes are matched in the order they are defined).
router = APIRouter(include_in_schema=False)


Handler = Callable[[Request, SimulatorIdP, str], Awaitable[Response]]


def simulator(handler: Handler) -> Callable[[Request, str], Awaitable[Response]]:
    """An endpoint below ``/auth/simulators/{means}/`` for ``handler``, which gets the
    simulators; a page saying so (404) where they are off or ``means`` is unknown."""

    async def endpoint(request: Request, means: str) -> Response:
        idp: SimulatorIdP | None = getattr(request.app.state, "simulators", None)
        if idp is None or means not in MEANS:
            return error_page(
                request, "Onbekende simulator.", "Unknown simulator.", status_code=404
            )
        return await handler(request, idp, means)

    endpoint.__name__ = endpoint.__qualname__ = handler.__name__
    return endpoint


@router.get("/auth/simulators/{means}/authorize")
@simulator
async def sim_authorize_page(request: Request, idp: SimulatorIdP, means: str) -> Response:
    try:
        params = idp.validate_authorize(means, query_dict(request))
    except (PageError, OAuthError) as exc:
        return error_page(request, getattr(exc, "nl", "Ongeldige aanvraag."), str(exc))
    lang = pick_lang(request.query_params.get("lang"), request)
    info = MEANS[means]
    minimum = params.get("acr_values", "")
    default = next(
        (lv.native for lv in info.levels if loa_rank(lv.loa) >= loa_rank(minimum)),
        info.levels[0].native,
    )
    return render_form(
        request,
        idp.p.settings,
        f"sim:{params['state']}",
        "simulator.html",
        lang,
        title=info.title,
        means=means,
        means_title=info.title,
        params=params,
        identities=test_identities()[means],
        levels=info.levels,
        default_level=default,
        loa_labels=LOA_LABELS[lang],
    )


@router.post("/auth/simulators/{means}/authorize")
@simulator
async def sim_authorize_submit(request: Request, idp: SimulatorIdP, means: str) -> Response:
    """The person's choice arrives in the POST body: a BSN never travels in a URL."""
    try:
        form = await read_form(request)
        params = idp.validate_authorize(means, form)
    except (PageError, OAuthError) as exc:
        return error_page(request, getattr(exc, "nl", "Ongeldige aanvraag."), str(exc))
    if not csrf_valid(idp.p.settings, request, form.get("csrf"), f"sim:{params['state']}"):
        return error_page(
            request, "Ongeldig formulier (CSRF).", "Invalid form (CSRF).", status_code=403
        )
    redirect_uri, state = params["redirect_uri"], params["state"]
    if form.get("action") == "cancel":
        target = add_query(redirect_uri, {"error": "access_denied", "state": state})
        return RedirectResponse(target, status_code=303)
    identity_id = form.get("identity", "")
    level = form.get("level", "")
    if (
        not any(i["id"] == identity_id for i in test_identities()[means])
        or MEANS[means].level(level) is None
    ):
        return error_page(
            request, "Kies een testpersoon en een niveau.", "Choose a test person and a level."
        )
    code = idp.make_code(means, identity_id, level, params)
    return RedirectResponse(
        add_query(redirect_uri, {"code": code, "state": state}), status_code=303
    )


@router.get("/auth/simulators/{means}/.well-known/openid-configuration")
@simulator
async def sim_discovery(request: Request, idp: SimulatorIdP, means: str) -> Response:
    return JSONResponse(idp.discovery(means), headers=CACHEABLE)


@router.get("/auth/simulators/{means}/jwks")
@simulator
async def sim_jwks(request: Request, idp: SimulatorIdP, means: str) -> Response:
    return JSONResponse(await idp.p.keys.simulator_jwks(), headers=CACHEABLE)


@router.post("/auth/simulators/{means}/token")
@simulator
async def sim_token(request: Request, idp: SimulatorIdP, means: str) -> Response:
    try:
        form = await read_form(request)
        header = request.headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            raise OAuthError("invalid_client", "client_secret_basic is required.")
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed credentials.") from None
        client_id, _, secret = raw.partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
        if not idp.check_broker_secret(client_id, secret):
            raise OAuthError("invalid_client", "Client authentication failed.")
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "Only authorization_code.")
        body = await idp.exchange(
            means,
            form.get("code", ""),
            form.get("redirect_uri", ""),
            form.get("code_verifier", ""),
            client_id,
        )
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=NO_STORE)
