"""Login pages: choice of means (only those reaching the required level), the upstream
redirect, and the callback that turns an upstream login into our session and code."""

from __future__ import annotations

import hmac

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..common import keyed_hash, random_token
from ..context import identity_of
from ..oauth.errors import OAuthError, PageError
from ..oauth.form_post import to_client
from ..oauth.forms import query_dict, read_form
from ..pages import CSRF_COOKIE, csrf_valid, error_page, pick_lang, render_form, set_cookie
from .connectors import UpstreamError
from .means import LOA_LABELS, loa_rank

router = APIRouter(include_in_schema=False)

EXPIRED = (
    "Deze inlogpoging is verlopen of al gebruikt. Begin opnieuw bij de dienst.",
    "This login attempt has expired or was already used. Please start again at the service.",
)


@router.get("/auth/login")
async def login_page(request: Request) -> Response:
    p = identity_of(request)
    lang = pick_lang(request.query_params.get("lang"), request)
    row = await p.authorization.load(request.query_params.get("request", ""))
    if row is None:
        return error_page(request, *EXPIRED)
    client = await p.clients.get(row.client_id)
    if client is None:
        return error_page(request, *EXPIRED)
    offered, unavailable = p.offered_means(row.required_loa)
    session = await p.sessions.load(request.cookies.get(p.settings.cookie_name))
    step_up = session is not None and loa_rank(session.acr) < loa_rank(row.required_loa)
    labels = LOA_LABELS[lang]
    return render_form(
        request,
        p.settings,
        f"login:{row.id}",
        "login.html",
        lang,
        title=("Inloggen" if lang == "nl" else "Log in"),
        client_name=client.name,
        request_id=row.id,
        offered=offered,
        unavailable=[{"title": m.title, "max_label": labels[m.max_loa]} for m in unavailable],
        required_label=labels[row.required_loa],
        step_up=step_up,
        session_label=labels.get(session.acr, "") if session else "",
        error=None,
    )


@router.post("/auth/login")
async def choose_means(request: Request) -> Response:
    p = identity_of(request)
    try:
        form = await read_form(request)
    except OAuthError as exc:
        return error_page(request, "Ongeldig formulier.", exc.description)
    request_id = form.get("request", "")
    if not csrf_valid(p.settings, request, form.get("csrf"), f"login:{request_id}"):
        return error_page(
            request,
            "Het formulier is verlopen of niet door u verstuurd (CSRF). Probeer het opnieuw.",
            "The form has expired or was not sent by you (CSRF). Please try again.",
            status_code=403,
        )
    means = form.get("means", "")
    state, nonce, verifier = random_token(24), random_token(24), random_token(48)
    # Bind the upstream leg to this browser: the callback must come back with the same
    # CSRF cookie, so nobody can make another browser finish a login they started.
    browser = keyed_hash(p.settings.secret, "browser", request.cookies.get(CSRF_COOKIE, ""))
    leg = {"upstream_state": state, "upstream_nonce": nonce, "upstream_verifier": verifier}
    required = None
    if means in p.connectors:
        required = await p.authorization.start_upstream(request_id, means, {**leg, "csrf": browser})
    if required is None:
        if await p.authorization.load(request_id) is None:
            return error_page(request, *EXPIRED)
        return error_page(
            request,
            "Dit inlogmiddel haalt het gevraagde niveau niet of bestaat niet.",
            "This login means does not reach the required level or does not exist.",
        )
    connector = p.connectors[means]
    url = connector.authorization_url(
        redirect_uri=p.url("/auth/login/callback"),
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        min_loa=required,
    )
    lang = pick_lang(form.get("lang"))
    if url.startswith("/"):
        url += f"&lang={lang}"
    return RedirectResponse(url, status_code=303)


@router.get("/auth/login/callback")
async def callback(request: Request) -> Response:
    p = identity_of(request)
    try:
        q = query_dict(request)
    except OAuthError as exc:
        return error_page(request, "Ongeldige aanvraag.", exc.description)
    row = await p.authorization.by_upstream_state(q.get("state", ""))
    if row is None or row.means is None or not p.authorization.usable(row):
        return error_page(request, *EXPIRED)
    browser = keyed_hash(p.settings.secret, "browser", request.cookies.get(CSRF_COOKIE, ""))
    if not hmac.compare_digest(browser, row.csrf):
        return error_page(
            request,
            "Deze inlogpoging is in een andere browser begonnen. Begin opnieuw bij de dienst.",
            "This login was started in another browser. Please start again at the service.",
            status_code=403,
        )
    params = row.params
    redirect_uri, rp_state = params["redirect_uri"], params.get("state")
    if "error" in q or not q.get("code"):
        uri = p.authorization.error_redirect(
            redirect_uri, rp_state, "access_denied", "The login was cancelled or refused."
        )
        return to_client(uri, params)
    connector = p.connectors.get(row.means)
    if connector is None:
        return error_page(request, *EXPIRED)
    try:
        identity = await connector.exchange(
            code=q["code"],
            redirect_uri=p.url("/auth/login/callback"),
            code_verifier=row.upstream_verifier or "",
            nonce=row.upstream_nonce or "",
        )
    except UpstreamError:
        uri = p.authorization.error_redirect(
            redirect_uri, rp_state, "access_denied", "The login at the upstream means failed."
        )
        return to_client(uri, params)
    if loa_rank(identity.loa) < loa_rank(row.required_loa):
        uri = p.authorization.error_redirect(
            redirect_uri,
            rp_state,
            "access_denied",
            f"The login reached level {identity.loa}; {row.required_loa} is required.",
        )
        return to_client(uri, params)
    try:
        cookie, location = await p.authorization.login_and_issue_code(row, identity)
    except PageError as exc:
        return error_page(request, exc.nl, exc.en)
    response = to_client(location, params)
    set_cookie(response, p.settings, p.settings.cookie_name, cookie, p.settings.session_lifetime)
    return response
