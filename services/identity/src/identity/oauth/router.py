"""Protocol endpoints of the OpenID Provider (not part of the /v1 REST API document):
HTTP in, calls to the aggregates' services, HTTP out."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from servicekit.clock import utcnow

from ..authorization.request_objects import PUSHED_PREFIX
from ..common import add_query, keyed_hash
from ..context import Identity, identity_of
from ..pages import TEXT, error_page, pick_lang, render
from ..tokens.userinfo_jwt import wants_jwt
from .discovery import discovery
from .errors import OAuthError, PageError, RedirectError
from .form_post import to_client
from .forms import CACHEABLE, NO_STORE, bearer, client_form, parameters, read_form

# Routes are matched in the order they are defined (and every route of a router included
# before the one that matches is tried): the hot paths come first — the token endpoint,
# then authorization; the cacheable metadata last.
router = APIRouter(include_in_schema=False)
GRANTS = ("authorization_code", "client_credentials", "refresh_token")


@router.post("/auth/token")
async def token(request: Request) -> Response:
    p = identity_of(request)
    try:
        form = await read_form(request)
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant not in GRANTS:
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
                body = await p.tokens.client_credentials(client, form.get("scope"))
            finally:
                await confirm
        else:
            await confirm  # codes and refresh tokens are spent only by an authenticated client
            if grant == "authorization_code":
                body = await p.tokens.authorization_code(client, form)
            else:
                body = await p.tokens.refresh(client, form)
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=NO_STORE)


@router.api_route("/auth/authorize", methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    p = identity_of(request)
    try:
        q = await parameters(request)
        if q.get("request_uri", "").startswith(PUSHED_PREFIX):
            row = await p.authorization.pushed(q)
        else:
            row = await p.authorization.store(await p.authorization.validate(q))
    except PageError as exc:
        return error_page(request, exc.nl, exc.en)
    except RedirectError as exc:
        redirect_uri = exc.redirect_uri or q["redirect_uri"]
        target = {"redirect_uri": redirect_uri, "response_mode": exc.response_mode}
        uri = p.authorization.error_redirect(redirect_uri, exc.state, exc.error, exc.description)
        return to_client(uri, target)
    session = await p.sessions.load(request.cookies.get(p.settings.cookie_name))
    if session is not None and p.sessions.satisfies(session, row.params, row.required_loa):
        try:
            location = await p.authorization.issue_code(row, session)
        except PageError as exc:
            return error_page(request, exc.nl, exc.en)
        return to_client(location, row.params)
    if "none" in row.params["prompt"]:
        uri = p.authorization.error_redirect(
            row.params["redirect_uri"],
            row.params.get("state"),
            "login_required",
            "The user must log in.",
        )
        return to_client(uri, row.params)
    lang = pick_lang((row.params.get("ui_locales") or "").split(" ")[0] or None, request)
    return RedirectResponse(f"/auth/login?request={row.id}&lang={lang}", status_code=303)


@router.api_route("/auth/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    p = identity_of(request)
    try:
        form = (
            await read_form(request)
            if request.method == "POST" and request.headers.get("content-type")
            else None
        )
        client, claims = await p.access.userinfo(bearer(request, form))
        if wants_jwt(client):
            signed = await p.userinfo_jwt.encode(client, claims)
            return Response(signed, media_type="application/jwt", headers=NO_STORE)
    except OAuthError as exc:
        challenge = f'Bearer realm="samen", error="{exc.error}"'
        if exc.error == "insufficient_scope":
            challenge += ', scope="openid"'
        return exc.response(www_authenticate=challenge)
    return JSONResponse(claims, headers=NO_STORE)


async def _authenticated_form(request: Request, path: str) -> tuple[Any, dict[str, str]]:
    client, form = await client_form(request, path)
    if not form.get("token"):
        raise OAuthError("invalid_request", "token is required.")
    return client, form


@router.post("/auth/introspect")
async def introspect(request: Request) -> Response:
    p = identity_of(request)
    try:
        client, form = await _authenticated_form(request, "/auth/introspect")
        if client.token_endpoint_auth_method == "none":  # noqa: S105
            raise OAuthError("invalid_client", "Public clients may not introspect.")
        body = await p.access.introspect(client, form["token"])
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=NO_STORE)


@router.post("/auth/revoke")
async def revoke(request: Request) -> Response:
    p = identity_of(request)
    try:
        client, form = await _authenticated_form(request, "/auth/revoke")
        # Every kind is looked for, so any token_type_hint (even an unknown one) is only a
        # hint (RFC 7009 §2.1).
        await p.access.revoke(client, form["token"])
    except OAuthError as exc:
        return exc.response()
    return Response(status_code=200, headers=NO_STORE)


@router.post("/auth/revocations")
async def revocations(request: Request) -> Response:
    """Revoked access tokens, for resource servers (servicekit.revocations polls it)."""
    p = identity_of(request)
    try:
        client, form = await client_form(request, "/auth/revocations")
        body = await p.access.revocation_feed(client, form.get("since"))
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=NO_STORE)


# What the confirmation form carries along, so the confirmed logout still returns to the
# client (its registered post_logout_redirect_uri) with its state.
_LOGOUT_PASSED_ON = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")


def _logout_unconfirmed(
    request: Request, p: Identity, q: dict[str, str], cookie: str, lang: str
) -> Response | None:
    """A logout not proven to come from a client of this very session (a cross-site link
    could log the person out) needs the person's confirmation: a page with a form bound
    to their session cookie. None once confirmed."""
    expected = keyed_hash(p.settings.secret, "end-session", cookie)
    if request.method == "GET" or q.get("confirm") != "yes":
        passed = {k: q[k] for k in _LOGOUT_PASSED_ON if q.get(k)}
        return render(
            request,
            "logout.html",
            lang,
            title=TEXT[lang]["logout_title"],
            csrf=expected,
            passed=passed,
        )
    if not hmac.compare_digest(q.get("csrf") or "", expected):
        return error_page(
            request,
            "Deze uitlogbevestiging is ongeldig. Probeer het opnieuw.",
            "This logout confirmation is not valid. Please try again.",
            status_code=403,
        )
    return None


async def _logout_client(p: Identity, q: dict[str, str]) -> tuple[Any, dict[str, Any] | None]:
    """The client an RP-initiated logout names (by its ID token hint or client_id), and
    the hint's claims."""
    if q.get("id_token_hint"):
        invalid = PageError("De id_token_hint is ongeldig.", "The id_token_hint is invalid.")
        try:
            hint = await p.keys.verify_own(q["id_token_hint"])
        except ValueError:
            raise invalid from None
        if hint.get("iss") != p.issuer or "nonce" not in hint:
            raise invalid
        client = await p.clients.get(str(hint.get("aud")))
        if q.get("client_id") and client is not None and q["client_id"] != client.client_id:
            raise PageError(
                "client_id past niet bij de hint.", "client_id does not match the hint."
            )
        return client, hint
    if q.get("client_id"):
        return await p.clients.get(q["client_id"]), None
    return None, None


@router.api_route("/auth/end-session", methods=["GET", "POST"])
async def end_session(request: Request) -> Response:
    """RP-initiated logout: ends the session; redirects only to a registered URI."""
    p = identity_of(request)
    try:
        q = await parameters(request)
        client, hint = await _logout_client(p, q)
    except PageError as exc:
        return error_page(request, exc.nl, exc.en)
    target = q.get("post_logout_redirect_uri")
    if target and (client is None or target not in client.post_logout_redirect_uris):
        return error_page(
            request,
            "Dit adres om naar terug te keren is niet geregistreerd.",
            "This post_logout_redirect_uri is not registered.",
        )
    cookie = request.cookies.get(p.settings.cookie_name)
    session = await p.sessions.load(cookie)
    lang = pick_lang(q.get("lang") or (q.get("ui_locales") or "").split(" ")[0], request)
    # Only an ID token of this very session shows the logout comes from its client
    # (OIDC RP-Initiated Logout §2); a client_id alone, or another session's ID token, asks.
    own = (
        session is not None
        and client is not None
        and hint is not None
        and hint.get("sid") == p.tokens.sid(client, session)
    )
    if session is not None and not own and cookie:
        unconfirmed = _logout_unconfirmed(request, p, q, cookie, lang)
        if unconfirmed is not None:
            return unconfirmed
    if session is not None:
        await p.sessions.end(
            session,
            actor=f"client:{client.client_id}" if client else "person",
            revocation=p.tokens.family_revocation(utcnow()),
        )
    if target:
        response: Response = RedirectResponse(
            add_query(target, {"state": q.get("state")}), status_code=303
        )
    else:
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
    p = identity_of(request)
    return JSONResponse(discovery(p.settings, p.issuer), headers=CACHEABLE)


@router.get("/.well-known/oauth-authorization-server")
async def oauth_metadata(request: Request) -> JSONResponse:
    p = identity_of(request)
    return JSONResponse(discovery(p.settings, p.issuer), headers=CACHEABLE)


@router.get("/auth/jwks")
async def jwks(request: Request) -> JSONResponse:
    keys = await identity_of(request).keys.jwks()
    return JSONResponse(keys, headers=CACHEABLE, media_type="application/jwk-set+json")
