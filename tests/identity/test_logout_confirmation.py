"""RP-initiated logout ends the session at once only with an ID token of that very
session (OIDC RP-Initiated Logout §2); a client_id alone or another person's ID token makes
the person confirm first, and the confirmed logout still returns to the client."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from idkit import ISSUER, Browser, hidden_fields

LOGGED_OUT = "https://rp.example.nl/logged-out"


async def _still_logged_in(browser: Browser, rp: Any) -> bool:
    return "code" in (await browser.login(rp, prompt="none")).params


async def _confirm_and_return(browser: Browser, page: httpx.Response) -> None:
    assert page.status_code == 200, page.text
    assert 'method="post"' in page.text
    fields = hidden_fields(page.text)
    done = await browser.http.post("/auth/end-session", data=fields)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{LOGGED_OUT}?state=bye"


async def test_logout_by_client_id_alone_asks_the_person(browser: Browser, register: Any) -> None:
    rp = await register()
    other = await register()
    await browser.login(rp)
    query = {"client_id": other.client_id, "post_logout_redirect_uri": LOGGED_OUT, "state": "bye"}
    page = await browser.http.get("/auth/end-session?" + urlencode(query))
    assert await _still_logged_in(browser, rp)
    await _confirm_and_return(browser, page)
    assert not await _still_logged_in(browser, rp)


async def test_logout_with_another_persons_id_token_asks_the_person(
    app: Any, browser: Browser, register: Any
) -> None:
    rp = await register()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as elsewhere:
        attacker = Browser(elsewhere)
        login = await attacker.login(rp, identity="digid-fatima")
        hint = (await attacker.token(rp, login)).json()["id_token"]
    await browser.login(rp)
    query = {"id_token_hint": hint, "post_logout_redirect_uri": LOGGED_OUT, "state": "bye"}
    page = await browser.http.get("/auth/end-session?" + urlencode(query))
    assert await _still_logged_in(browser, rp)
    await _confirm_and_return(browser, page)
    assert not await _still_logged_in(browser, rp)


async def test_logout_with_own_sessions_id_token_needs_no_confirmation(
    browser: Browser, register: Any
) -> None:
    rp = await register()
    login = await browser.login(rp)
    hint = (await browser.token(rp, login)).json()["id_token"]
    query = {"id_token_hint": hint, "post_logout_redirect_uri": LOGGED_OUT, "state": "bye"}
    done = await browser.http.get("/auth/end-session?" + urlencode(query))
    assert done.status_code == 303
    assert not await _still_logged_in(browser, rp)
