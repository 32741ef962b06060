"""Protocol endpoints of the OpenID Provider (not part of the /v1 REST API document)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..pages import TEXT, error_page, pick_lang, render
from .errors import OAuthError
from .provider import PageError, Provider, RedirectError, add_query

# Routes are matched in the order they are defined (and every route of a router included
# before the one that matches is tried): the hot paths come first — the token endpoint,
# then authorization; the cacheable metadata last.
router = APIRouter(include_in_schema=False)
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CACHEABLE = {"Cache-Control": "public, max-age=300"}


def provider(request: Request) -> Provider:
    p: Provider = request.app.state.provider
    return p


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body; repeated parameters are refused (RFC 6749 §3.1).

    Parsed with the standard library (cheaper than the multipart machinery on the
    token endpoint's hot path)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise OAuthError("invalid_request", f"The body must be {FORM}.")
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "The body is not valid form data.") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise OAuthError("invalid_request", f"Parameter {key} is repeated.")
        out[key] = value
    return out


def query_dict(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in out:
            raise OAuthError("invalid_request", f"Parameter {key} is repeated.")
        out[key] = value
    return out


@router.post("/auth/token")
async def token(request: Request) -> Response:
    p = provider(request)
    try:
        form = await read_form(request)
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant not in ("authorization_code", "client_credentials", "refresh_token"):
            raise OAuthError("unsupported_grant_type", f"grant_type {grant} is not supported.")
        client, confirm = await p.client_auth.authenticate_pending(
            form, request.headers.get("authorization"), p.url("/auth/token")
        )
        body: dict[str, Any]
        if grant == "client_credentials":
            # The grant has no side effects (it checks and signs), so it runs while a
            # client assertion's one-time id is being recorded; nothing is answered
            # before that is confirmed, and a replayed assertion is refused (401) before
            # any error of the grant.
            try:
                body = await p.client_credentials(client, form.get("scope"))
            finally:
                await confirm
        else:
            await confirm  # codes and refresh tokens are spent only by an authenticated client
            if grant == "authorization_code":
                body = await p.authorization_code(client, form)
            else:
                body = await p.refresh(client, form)
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=NO_STORE)


@router.api_route("/auth/authorize", methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    p = provider(request)
    try:
        q = await read_form(request) if request.method == "POST" else query_dict(request)
    except OAuthError as exc:
        return error_page(request, "Ongeldige aanvraag.", exc.description)
    try:
        v = await p.validate_authorization(q)
    except PageError as exc:
        return error_page(request, exc.nl, exc.en)
    except RedirectError as exc:
        uri = p.error_redirect(q["redirect_uri"], q.get("state"), exc.error, exc.description)
        return RedirectResponse(uri, status_code=303)
    row = await p.store_request(v)
    session = await p.load_session(request.cookies.get(p.settings.cookie_name))
    if session is not None and p.session_satisfies(session, v.params, v.required_loa):
        return RedirectResponse(await p.issue_code(row, session), status_code=303)
    if "none" in v.params["prompt"]:
        uri = p.error_redirect(v.redirect_uri, v.state, "login_required", "The user must log in.")
        return RedirectResponse(uri, status_code=303)
    lang = pick_lang((v.params.get("ui_locales") or "").split(" ")[0] or None, request)
    return RedirectResponse(f"/auth/login?request={row.id}&lang={lang}", status_code=303)


def _bearer(request: Request, form: dict[str, str] | None) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if form and form.get("access_token"):
        return form["access_token"]
    raise OAuthError("invalid_token", "A bearer access token is required.")


@router.api_route("/auth/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    p = provider(request)
    try:
        form = (
            await read_form(request)
            if request.method == "POST" and request.headers.get("content-type")
            else None
        )
        claims = await p.userinfo(_bearer(request, form))
    except OAuthError as exc:
        challenge = f'Bearer realm="samen", error="{exc.error}"'
        return exc.response(www_authenticate=challenge)
    return JSONResponse(claims, headers=NO_STORE)


async def _authenticated_form(request: Request, path: str) -> tuple[Any, dict[str, str]]:
    p = provider(request)
    form = await read_form(request)
    client = await p.client_auth.authenticate(
        form, request.headers.get("authorization"), p.url(path)
    )
    if not form.get("token"):
        raise OAuthError("invalid_request", "token is required.")
    return client, form


@router.post("/auth/introspect")
async def introspect(request: Request) -> Response:
    p = provider(request)
    try:
        client, form = await _authenticated_form(request, "/auth/introspect")
        if client.token_endpoint_auth_method == "none":  # noqa: S105
            raise OAuthError("invalid_client", "Public clients may not introspect.")
        body = await p.introspect(client, form["token"])
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=NO_STORE)


@router.post("/auth/revoke")
async def revoke(request: Request) -> Response:
    p = provider(request)
    try:
        client, form = await _authenticated_form(request, "/auth/revoke")
        hint = form.get("token_type_hint")
        if hint not in (None, "access_token", "refresh_token"):
            raise OAuthError("unsupported_token_type", "token_type_hint is not supported.")
        await p.revoke(client, form["token"])
    except OAuthError as exc:
        return exc.response()
    return Response(status_code=200, headers=NO_STORE)


@router.api_route("/auth/end-session", methods=["GET", "POST"])
async def end_session(request: Request) -> Response:
    """RP-initiated logout: ends the session; redirects only to a registered URI."""
    p = provider(request)
    try:
        q = await read_form(request) if request.method == "POST" else query_dict(request)
    except OAuthError as exc:
        return error_page(request, "Ongeldige aanvraag.", exc.description)
    client = None
    if q.get("id_token_hint"):
        try:
            hint = await p.keys.verify_own(q["id_token_hint"])
        except ValueError:
            return error_page(
                request, "De id_token_hint is ongeldig.", "The id_token_hint is invalid."
            )
        if hint.get("iss") != p.issuer or "nonce" not in hint:
            return error_page(
                request, "De id_token_hint is ongeldig.", "The id_token_hint is invalid."
            )
        client = await p.clients.get(str(hint.get("aud")))
        if q.get("client_id") and client is not None and q["client_id"] != client.client_id:
            return error_page(
                request, "client_id past niet bij de hint.", "client_id does not match the hint."
            )
    elif q.get("client_id"):
        client = await p.clients.get(q["client_id"])
    target = q.get("post_logout_redirect_uri")
    if target and (client is None or target not in client.post_logout_redirect_uris):
        return error_page(
            request,
            "Dit adres om naar terug te keren is niet geregistreerd.",
            "This post_logout_redirect_uri is not registered.",
        )
    cookie = request.cookies.get(p.settings.cookie_name)
    session = await p.load_session(cookie)
    if session is not None:
        await p.end_session(session, actor=f"client:{client.client_id}" if client else "person")
    if target:
        response: Response = RedirectResponse(
            add_query(target, {"state": q.get("state")}), status_code=303
        )
    else:
        lang = pick_lang(q.get("lang") or (q.get("ui_locales") or "").split(" ")[0], request)
        response = render(
            request,
            "message.html",
            lang,
            title=TEXT[lang]["logged_out_title"],
            heading=TEXT[lang]["logged_out_title"],
            message=TEXT[lang]["logged_out"],
            is_error=False,
        )
    response.delete_cookie(p.settings.cookie_name, path="/auth")
    return response


@router.get("/.well-known/openid-configuration")
async def openid_configuration(request: Request) -> JSONResponse:
    return JSONResponse(provider(request).discovery(), headers=CACHEABLE)


@router.get("/.well-known/oauth-authorization-server")
async def oauth_metadata(request: Request) -> JSONResponse:
    return JSONResponse(provider(request).discovery(), headers=CACHEABLE)


@router.get("/auth/jwks")
async def jwks(request: Request) -> JSONResponse:
    keys = await provider(request).keys.jwks()
    return JSONResponse(keys, headers=CACHEABLE, media_type="application/jwk-set+json")
