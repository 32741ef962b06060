"""Userinfo challenges a bearer token it refuses (RFC 6750 §3): also one without the
scope it needs (403), naming that scope."""

from __future__ import annotations

from typing import Any

import httpx


async def test_userinfo_insufficient_scope_is_challenged(
    http: httpx.AsyncClient, register: Any
) -> None:
    machine = await register(grant_type="client_credentials", allowed_scopes=["registry:read"])
    data, headers = machine.auth({"grant_type": "client_credentials"})
    token = (await http.post("/auth/token", data=data, headers=headers)).json()["access_token"]
    r = await http.get("/auth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json()["error"] == "insufficient_scope"
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="openid"' in challenge
    bad = await http.get("/auth/userinfo", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
