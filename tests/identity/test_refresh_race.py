"""Refresh-token rotation: a refresh whose rotated token's family is revoked while it
signs issues nothing (RFC 9700 §4.14.2), and narrowing the scope narrows only the access
token (RFC 6749 §6)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from idkit import ISSUER, RP, Browser


async def _refresh(http: httpx.AsyncClient, rp: RP, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    data, headers = rp.auth(form, aud=f"{ISSUER}/auth/token")
    return await http.post("/auth/token", data=data, headers=headers)


@pytest.mark.parametrize("how", ["replay", "revoke"])
async def test_family_revoked_while_refreshing_issues_nothing(
    app: Any, browser: Browser, register: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    rp = await register(refresh_tokens=True)
    login = await browser.login(rp)
    r1 = (await browser.token(rp, login)).json()["refresh_token"]
    tokens = app.state.identity.tokens
    signing = asyncio.Event()
    revoked = asyncio.Event()
    original = tokens.mint_access_token

    async def paused(*args: Any, **kwargs: Any) -> Any:
        # The first refresh has marked r1 used and waits here until the family is revoked.
        signing.set()
        await revoked.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(tokens, "mint_access_token", paused)
    first = asyncio.create_task(_refresh(browser.http, rp, r1))
    await asyncio.wait_for(signing.wait(), 10)
    monkeypatch.setattr(tokens, "mint_access_token", original)
    if how == "replay":
        replay = await _refresh(browser.http, rp, r1)
        assert replay.json()["error"] == "invalid_grant"
    else:
        data, headers = rp.auth({"token": r1}, aud=f"{ISSUER}/auth/revoke")
        assert (await browser.http.post("/auth/revoke", data=data, headers=headers)).is_success
    revoked.set()
    got = await first
    assert got.status_code == 400, got.text
    assert got.json()["error"] == "invalid_grant"
    assert "refresh_token" not in got.json()


async def test_a_narrowed_refresh_narrows_the_access_token_only(
    browser: Browser, register: Any
) -> None:
    """RFC 6749 §6: the new refresh token keeps the scope of the one presented."""
    rp = await register(refresh_tokens=True)
    login = await browser.login(rp, scope="openid profile")
    r1 = (await browser.token(rp, login)).json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": r1, "scope": "openid"}
    data, headers = rp.auth(form, aud=f"{ISSUER}/auth/token")
    narrowed = (await browser.http.post("/auth/token", data=data, headers=headers)).json()
    assert narrowed["scope"] == "openid"
    form = {"grant_type": "refresh_token", "refresh_token": narrowed["refresh_token"]}
    form["scope"] = "openid profile"
    data, headers = rp.auth(form, aud=f"{ISSUER}/auth/token")
    full = await browser.http.post("/auth/token", data=data, headers=headers)
    assert full.status_code == 200, full.text
    assert full.json()["scope"] == "openid profile"
