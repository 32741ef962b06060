"""Edges of the protocol endpoints: an unknown token_type_hint at revocation (RFC 7009
§2.1), Basic credentials with a body client_id naming another client, and a refused state
that must not be echoed."""

from __future__ import annotations

from typing import Any

import httpx
from idkit import ISSUER, Browser, query_of


async def test_revoke_with_an_unknown_hint_still_revokes(browser: Browser, register: Any) -> None:
    rp = await register(refresh_tokens=True)
    login = await browser.login(rp)
    refresh = (await browser.token(rp, login)).json()["refresh_token"]
    form = {"token": refresh, "token_type_hint": "weird_token"}
    data, headers = rp.auth(form, aud=f"{ISSUER}/auth/revoke")
    r = await browser.http.post("/auth/revoke", data=data, headers=headers)
    assert r.status_code == 200, r.text
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    data, headers = rp.auth(form, aud=f"{ISSUER}/auth/token")
    used = await browser.http.post("/auth/token", data=data, headers=headers)
    assert used.json()["error"] == "invalid_grant"


async def test_basic_credentials_with_another_client_id_are_refused(
    http: httpx.AsyncClient, register: Any
) -> None:
    rp = await register(
        grant_type="client_credentials", token_endpoint_auth_method="client_secret_basic"
    )
    other = await register(grant_type="client_credentials")
    data, headers = rp.auth({"grant_type": "client_credentials", "client_id": other.client_id})
    r = await http.post("/auth/token", data=data, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    data, headers = rp.auth({"grant_type": "client_credentials", "client_id": rp.client_id})
    assert (await http.post("/auth/token", data=data, headers=headers)).status_code == 200


async def test_a_refused_state_is_not_echoed(browser: Browser, register: Any) -> None:
    rp = await register()
    for state in ("x" * 2001, "bad\nstate"):
        response, _, _ = await browser.start(rp, state=state)
        result = query_of(response.headers["location"])
        assert result["error"] == "invalid_request"
        assert "state" not in result
    # An acceptable state comes back with an error about something else.
    response, _, _ = await browser.start(rp, state="fine", code_challenge_method="plain")
    assert query_of(response.headers["location"])["state"] == "fine"
