"""What browsers meet at the OP: CORS on token, userinfo, JWKS and discovery for
registered origins only; logout that cannot be tied to a client asks the person first."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from idkit import Browser, hidden_fields

CORS_PATHS = ["/auth/token", "/auth/userinfo", "/auth/jwks", "/.well-known/openid-configuration"]


@pytest.mark.parametrize("path", CORS_PATHS)
async def test_cors_for_registered_origins_only(
    http: httpx.AsyncClient, register: Any, path: str
) -> None:
    await register(redirect_uris=["https://spa.example.nl/app/callback"])
    method = "GET" if path != "/auth/token" else "POST"
    preflight = await http.options(
        path,
        headers={
            "Origin": "https://spa.example.nl",
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "Authorization, X-Evil",
        },
    )
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["access-control-allow-origin"] == "https://spa.example.nl"
    assert method in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "authorization"
    assert "access-control-allow-credentials" not in preflight.headers
    assert "Origin" in preflight.headers["vary"]
    stranger = await http.options(
        path,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": method},
    )
    assert "access-control-allow-origin" not in stranger.headers
    if method == "GET":
        ok = await http.get(path, headers={"Origin": "https://spa.example.nl"})
        assert ok.headers.get("access-control-allow-origin") == "https://spa.example.nl"
        assert "access-control-allow-credentials" not in ok.headers
        evil = await http.get(path, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        assert evil.headers.get("access-control-allow-origin") != "*"


async def test_cors_on_the_token_response(browser: Browser, register: Any) -> None:
    rp = await register(
        token_endpoint_auth_method="none", redirect_uris=["https://spa2.example.nl/cb"]
    )
    rp.redirect_uri = "https://spa2.example.nl/cb"
    login = await browser.login(rp)
    form = {
        "grant_type": "authorization_code",
        "code": login.params["code"],
        "redirect_uri": rp.redirect_uri,
        "code_verifier": login.verifier,
        "client_id": rp.client_id,
    }
    r = await browser.http.post(
        "/auth/token", data=form, headers={"Origin": "https://spa2.example.nl"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://spa2.example.nl"


async def test_logout_without_hint_or_client_asks_the_person(
    browser: Browser, register: Any
) -> None:
    rp = await register()
    login = await browser.login(rp)
    assert "code" in login.params
    # A cross-site link: the session is not ended, a confirmation page is shown.
    page = await browser.http.get("/auth/end-session")
    assert page.status_code == 200, page.text
    assert 'method="post"' in page.text
    fields = hidden_fields(page.text)
    assert fields.get("csrf")
    still = await browser.login(rp, prompt="none")
    assert "code" in still.params, still.location
    # A forged confirmation (no or wrong CSRF token) is refused and ends nothing.
    for forged in ({}, {**fields, "csrf": "forged"}):
        refused = await browser.http.post("/auth/end-session", data={**forged, "confirm": "yes"})
        assert refused.status_code in (400, 403), refused.text
    still = await browser.login(rp, prompt="none")
    assert "code" in still.params, still.location
    # The person confirms: logged out.
    done = await browser.http.post("/auth/end-session", data={**fields, "confirm": "yes"})
    assert done.status_code == 200, done.text
    after = await browser.login(rp, prompt="none")
    assert after.params.get("error") == "login_required", after.location


async def test_logout_tied_to_a_client_needs_no_confirmation(
    browser: Browser, register: Any
) -> None:
    rp = await register()
    login = await browser.login(rp)
    tokens = (await browser.token(rp, login)).json()
    r = await browser.http.get(
        "/auth/end-session?" + urlencode({"id_token_hint": tokens["id_token"]})
    )
    assert r.status_code == 200
    after = await browser.login(rp, prompt="none")
    assert after.params.get("error") == "login_required"


async def test_pages_carry_their_own_icon(browser: Browser, register: Any) -> None:
    """Without an icon a browser asks /favicon.ico, which behind the gateway is the portal's
    404 page. Identity's pages carry the icon inline, and their CSP lets it load."""
    import re
    from urllib.parse import unquote

    rp = await register()
    await browser.login(rp)
    page = await browser.http.get("/auth/end-session")
    assert page.status_code == 200, page.text
    links = re.findall(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', page.text)
    assert len(links) == 1, page.text[:600]
    scheme, _, svg = links[0].partition(",")
    assert scheme == "data:image/svg+xml"
    svg = unquote(svg)
    assert svg.startswith("<svg xmlns='http://www.w3.org/2000/svg'")
    assert svg.endswith("</svg>")
    policy = dict(
        part.strip().split(" ", 1)
        for part in page.headers["content-security-policy"].split(";")
        if " " in part.strip()
    )
    assert "data:" in policy["img-src"].split()
