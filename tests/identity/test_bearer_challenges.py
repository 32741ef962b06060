"""Bearer tokens at userinfo and introspection: a refused one is challenged (RFC 6750 §3),
also one without the scope it needs (403, naming that scope); only JWTs typed at+jwt are
access tokens (RFC 9068 §4)."""

from __future__ import annotations

from typing import Any

import httpx
from idkit import ISSUER, decode_unverified


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


async def test_a_jwt_of_the_op_not_typed_at_jwt_is_no_access_token(
    app: Any, browser: Any, register: Any
) -> None:
    """RFC 9068 §4: userinfo and introspection take only tokens typed at+jwt."""
    rp = await register()
    login = await browser.login(rp)
    token = (await browser.token(rp, login)).json()["access_token"]
    claims = decode_unverified(token)
    keys = app.state.identity.keys
    for typ in ("JWT", "at+jwt"):
        signed = await keys.sign(claims, "RS256", typ=typ)
        info = await browser.http.get(
            "/auth/userinfo", headers={"Authorization": f"Bearer {signed}"}
        )
        assert info.status_code == (200 if typ == "at+jwt" else 401), info.text
        data, headers = rp.auth({"token": signed}, aud=f"{ISSUER}/auth/introspect")
        answer = (await browser.http.post("/auth/introspect", data=data, headers=headers)).json()
        assert answer["active"] is (typ == "at+jwt")
