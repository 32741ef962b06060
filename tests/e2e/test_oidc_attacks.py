"""OpenID Connect attacks against the running platform, through the gateway: PKCE
downgrade, authorization-code replay, refresh-token reuse, open redirects via
redirect_uri and post_logout_redirect_uri, CSRF on the login form. (tests/identity
covers the same rules in-process; this proves them on the real, proxied deployment.)"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from e2ekit import (
    DIGID_SUBSTANTIAL,
    LOA_LOW,
    Browser,
    Platform,
    Rp,
    basic_auth,
    bearer,
    hidden_fields,
    path_of,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

CALLBACK = "https://rp.example.nl/callback"
LOGGED_OUT = "https://rp.example.nl/logged-out"


@pytest.fixture(scope="module")
async def rp(platform: Platform) -> Rp:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as api:
        r = await api.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "identity:admin"},
            headers={"Authorization": basic_auth("samen-admin", "samen-admin-dev-secret")},
        )
        assert r.status_code == 200, r.text
        client_id = f"attack-rp-{uuid.uuid4().hex[:8]}"
        r = await api.post(
            "/api/identity/v1/clients",
            json={
                "clientId": client_id,
                "name": "Attack surface RP",
                "grantType": "authorization_code",
                "tokenEndpointAuthMethod": "client_secret_basic",
                "redirectUris": [CALLBACK],
                "postLogoutRedirectUris": [LOGGED_OUT],
                "allowedScopes": ["openid", "profile"],
                "minimumLoa": LOA_LOW,
                "refreshTokens": True,
            },
            headers=bearer(r.json()["access_token"]),
        )
        assert r.status_code == 201, r.text
        return Rp(client_id, r.json()["clientSecret"], CALLBACK)


@pytest.fixture
async def browser(platform: Platform) -> Any:
    b = Browser(platform.url)
    yield b
    await b.aclose()


def authorize_url(rp: Rp, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": "s",
        "nonce": "n",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return "/auth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def never_redirected_to(response: httpx.Response, bad: str) -> None:
    location = response.headers.get("location", "")
    assert not location.startswith(bad), location
    assert response.status_code in (303, 302, 400), response.status_code
    if response.status_code in (302, 303):
        assert location.startswith((CALLBACK, "/auth/")), location


async def test_pkce_is_required_and_plain_is_refused(browser: Browser, rp: Rp) -> None:
    for overrides in (
        {"code_challenge_method": "plain"},
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": None},
    ):
        r = await browser.http.get(authorize_url(rp, **overrides))
        location = r.headers.get("location", "")
        assert r.status_code in (303, 400), r.text
        if r.status_code == 303:
            assert location.startswith(CALLBACK)
            assert "error=" in location, (overrides, location)
    # A code bound to S256 cannot be redeemed with a wrong or missing verifier.
    result, verifier = await browser.authorize(
        rp, "digid", "digid-fatima", DIGID_SUBSTANTIAL, "openid profile"
    )
    for wrong in ("x" * 43, verifier[:-1] + ("A" if verifier[-1] != "A" else "B"), ""):
        r = await browser.redeem(rp, result["code"], wrong)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_grant" or r.json()["error"] == "invalid_request"


async def test_authorization_code_replay(browser: Browser, rp: Rp, platform: Platform) -> None:
    result, verifier = await browser.authorize(
        rp, "digid", "digid-fatima", DIGID_SUBSTANTIAL, "openid profile"
    )
    first = await browser.redeem(rp, result["code"], verifier)
    assert first.status_code == 200, first.text
    replay = await browser.redeem(rp, result["code"], verifier)
    assert replay.status_code == 400, replay.text
    assert replay.json()["error"] == "invalid_grant"
    # The replay revokes what the code gave where it can (RFC 6749 4.1.2): the refresh
    # token. (The access token is a self-contained JWT until it expires.)
    r = await browser.http.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        headers={"Authorization": basic_auth(rp.client_id, rp.secret)},
    )
    assert r.status_code == 400, "the refresh token of a replayed code still works"


async def test_refresh_token_reuse_revokes_the_family(browser: Browser, rp: Rp) -> None:
    body = await browser.login(rp, "digid", "digid-fatima", DIGID_SUBSTANTIAL, "openid profile")
    old = body["refresh_token"]

    async def refresh(token: str) -> httpx.Response:
        return await browser.http.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            headers={"Authorization": basic_auth(rp.client_id, rp.secret)},
        )

    rotated = await refresh(old)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["refresh_token"]
    assert new != old
    reuse = await refresh(old)
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # The whole family is revoked: the legitimate newest token no longer works either.
    after = await refresh(new)
    assert after.status_code == 400, after.text


async def test_open_redirect_via_redirect_uri(browser: Browser, rp: Rp) -> None:
    for bad in (
        "https://evil.example/callback",
        "https://rp.example.nl.evil.example/callback",
        "https://rp.example.nl/callback/../../evil",
        "https://rp.example.nl/callback?next=https://evil.example",
        "https://rp.example.nl/callback#x",
        "http://rp.example.nl/callback",
        "//evil.example/callback",
        "https://rp.example.nl@evil.example/callback",
    ):
        r = await browser.http.get(authorize_url(rp, redirect_uri=bad))
        assert r.status_code == 400, (bad, r.status_code, r.headers.get("location"))
        assert "location" not in r.headers


async def test_open_redirect_via_post_logout_redirect_uri(browser: Browser, rp: Rp) -> None:
    body = await browser.login(rp, "digid", "digid-fatima", DIGID_SUBSTANTIAL, "openid profile")
    for bad in ("https://evil.example/", "https://rp.example.nl/logged-out.evil", "//evil.example"):
        r = await browser.http.get(
            "/auth/end-session?"
            + urlencode({"id_token_hint": body["id_token"], "post_logout_redirect_uri": bad})
        )
        assert r.status_code == 400, (bad, r.status_code)
        assert "location" not in r.headers
    ok = await browser.http.get(
        "/auth/end-session?"
        + urlencode({"id_token_hint": body["id_token"], "post_logout_redirect_uri": LOGGED_OUT})
    )
    assert ok.status_code in (302, 303)
    assert ok.headers["location"].startswith(LOGGED_OUT)


async def test_csrf_on_the_login_form(browser: Browser, rp: Rp, platform: Platform) -> None:
    r = await browser.http.get(authorize_url(rp, state=uuid.uuid4().hex))
    assert r.status_code == 303
    page = await browser.http.get(path_of(r.headers["location"]))
    fields = hidden_fields(page.text)
    assert fields, "the login form has hidden fields (request, csrf)"
    forged = {k: ("forged" if "csrf" in k else v) for k, v in fields.items()}
    refused = await browser.http.post("/auth/login", data={**forged, "means": "digid"})
    assert refused.status_code in (400, 403), refused.text
    assert "location" not in refused.headers
    # The same form posted from another browser (no session cookie) is refused too.
    async with httpx.AsyncClient(base_url=platform.url) as stranger:
        refused = await stranger.post("/auth/login", data={**fields, "means": "digid"})
        assert refused.status_code in (400, 403), refused.text
