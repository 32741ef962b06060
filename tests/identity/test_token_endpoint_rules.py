"""Token endpoint rules: refresh tokens expire (per token and for the whole family),
failed client authentication is limited, and scopes a client may not have are dropped
(RFC 6749 §3.3) with the granted scope returned."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from idkit import ISSUER, RP, Browser, basic_header, decode_unverified, make_settings

from identity.main import create_app
from servicekit.db import Database


async def _post(http: httpx.AsyncClient, rp: RP, path: str, form: dict[str, str]) -> httpx.Response:
    data, headers = rp.auth(form, aud=f"{ISSUER}{path}")
    return await http.post(path, data=data, headers=headers)


@pytest.fixture
async def short_lived(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An identity app whose refresh tokens live 4 s, and their families 4 s at most."""
    app = create_app(
        make_settings(database.url, refresh_token_lifetime=4, refresh_token_family_lifetime=4),
        database=database,
    )
    await app.state.identity.keys.ensure()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


async def test_a_refresh_family_ends_at_its_absolute_maximum(
    short_lived: httpx.AsyncClient, register: Any
) -> None:
    rp = await register(refresh_tokens=True)
    browser = Browser(short_lived)
    tokens = (await browser.token(rp, await browser.login(rp))).json()

    async def refresh(token: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": token}
        return await _post(short_lived, rp, "/auth/token", form)

    await asyncio.sleep(2.5)
    rotated = await refresh(tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    # The rotated token alone would live until 2.5 + 4 s; its family ends at 4 s.
    await asyncio.sleep(2.0)
    expired = await refresh(rotated.json()["refresh_token"])
    assert expired.status_code == 400, expired.text
    assert expired.json()["error"] == "invalid_grant"
    assert "expired" in expired.json()["error_description"]


def test_refresh_lifetimes_are_bounded() -> None:
    with pytest.raises(ValueError, match="refresh"):
        make_settings(
            "sqlite+aiosqlite://", refresh_token_lifetime=7200, refresh_token_family_lifetime=3600
        )
    # NL GOV OAuth profile: a refresh token lives 6 h at most, and by default.
    assert make_settings("sqlite+aiosqlite://").refresh_token_lifetime == 6 * 3600
    make_settings("sqlite+aiosqlite://", refresh_token_lifetime=6 * 3600)
    with pytest.raises(ValueError, match="refresh_token_lifetime"):
        make_settings("sqlite+aiosqlite://", refresh_token_lifetime=6 * 3600 + 1)


async def test_failed_client_authentication_is_limited(
    http: httpx.AsyncClient, register: Any
) -> None:
    rp = await register(
        grant_type="client_credentials", token_endpoint_auth_method="client_secret_basic"
    )
    assert rp.secret
    form = {"grant_type": "client_credentials"}
    wrong = {"Authorization": basic_header(rp.client_id, "not-the-secret")}
    statuses = [
        (await http.post("/auth/token", data=form, headers=wrong)).status_code for _ in range(10)
    ]
    assert statuses == [401] * 10
    limited = await http.post("/auth/token", data=form, headers=wrong)
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) > 0
    # Even the right secret waits now: the limit must not reveal which guess was right.
    right = {"Authorization": basic_header(rp.client_id, rp.secret)}
    assert (await http.post("/auth/token", data=form, headers=right)).status_code == 429
    # Another client is not affected.
    other = await register(grant_type="client_credentials")
    data, _ = other.auth(form)
    assert (await http.post("/auth/token", data=data)).status_code == 200


async def test_disallowed_scopes_are_dropped(browser: Browser, register: Any) -> None:
    machine = await register(grant_type="client_credentials", allowed_scopes=["registry:read"])
    data, _ = machine.auth(
        {"grant_type": "client_credentials", "scope": "registry:read registry:write"}
    )
    r = await browser.http.post("/auth/token", data=data)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "registry:read"
    assert decode_unverified(r.json()["access_token"])["scope"] == "registry:read"
    data, _ = machine.auth({"grant_type": "client_credentials", "scope": "registry:write"})
    nothing = await browser.http.post("/auth/token", data=data)
    assert nothing.status_code == 400
    assert nothing.json()["error"] == "invalid_scope"

    rp = await register(allowed_scopes=["openid", "profile"])
    login = await browser.login(rp, scope="openid profile email offline_access registry:write")
    assert "code" in login.params, login.location
    tokens = (await browser.token(rp, login)).json()
    assert tokens["scope"] == "openid profile"
    assert decode_unverified(tokens["access_token"])["scope"] == "openid profile"
    unique = uuid.uuid4().hex  # the openid scope itself stays required
    response, _params, _verifier = await browser.start(rp, scope="profile", state=unique)
    assert "error=invalid_scope" in response.headers["location"]
