"""Discovery, JWKS, signing keys at rest, and the client_credentials grant."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from idkit import ASSERTION_TYPE, ISSUER, basic_header, decode_unverified
from sqlalchemy import select

from identity.keys.models import SigningKey
from servicekit.auth import TokenVerifier
from servicekit.jwks import JwksCache, http_jwks_fetcher


async def test_discovery_and_jwks(http: httpx.AsyncClient) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        response = await http.get(path)
        assert response.status_code == 200
        assert "max-age" in response.headers["cache-control"]
        doc = response.json()
        assert doc["issuer"] == ISSUER
        assert doc["response_types_supported"] == ["code"]
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert set(doc["id_token_signing_alg_values_supported"]) == {"RS256", "PS256"}
        assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    jwks = await http.get("/auth/jwks")
    assert jwks.status_code == 200
    assert "max-age" in jwks.headers["cache-control"]
    keys = jwks.json()["keys"]
    assert {k["alg"] for k in keys if k["use"] == "sig"} == {"RS256", "PS256"}
    # and the key clients encrypt request objects to (after a rotation also the previous one)
    assert {k["alg"] for k in keys if k["use"] == "enc"} == {"RSA-OAEP-256"}
    assert all("d" not in k and "p" not in k for k in keys)


async def test_private_keys_are_encrypted_at_rest(database: Any, app: Any) -> None:
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(SigningKey))).scalars().all()
    assert rows
    for row in rows:
        assert '"d"' not in row.private_jwk_encrypted
        assert row.private_jwk_encrypted.startswith("gAAAA")  # Fernet token


async def test_client_credentials_private_key_jwt(
    http: httpx.AsyncClient, register: Any, app: Any
) -> None:
    rp = await register(
        grant_type="client_credentials",
        allowed_scopes=["registry:read", "registry:write"],
        org_id="00000001001234567000",
        org_type="municipality",
        roles=["registry-editor"],
    )
    data, _ = rp.auth({"grant_type": "client_credentials", "scope": "registry:read"})
    response = await http.post("/auth/token", data=data)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["scope"] == "registry:read"
    assert body["expires_in"] <= 3600
    claims = decode_unverified(body["access_token"])
    assert claims["scope"] == "registry:read"
    assert claims["sub"] == rp.client_id
    assert claims["azp"] == rp.client_id
    assert claims["org_id"] == "00000001001234567000"
    assert claims["roles"] == ["registry-editor"]
    for name in ("iss", "aud", "exp", "iat", "nbf", "jti"):
        assert name in claims

    # servicekit's verifier, fed from our JWKS endpoint over HTTP, accepts the token.
    verifier = TokenVerifier(
        JwksCache(http_jwks_fetcher(f"{ISSUER}/auth/jwks", client=http)),
        issuer=ISSUER,
        audience="samen",
    )
    verified = await verifier.verify(body["access_token"])
    assert verified["jti"] == claims["jti"]

    # Without a scope parameter the client gets all its allowed scopes.
    data, _ = rp.auth({"grant_type": "client_credentials"})
    body = (await http.post("/auth/token", data=data)).json()
    assert body["scope"].split() == ["registry:read", "registry:write"]


async def test_client_credentials_refusals(http: httpx.AsyncClient, register: Any) -> None:
    rp = await register(grant_type="client_credentials", allowed_scopes=["registry:read"])

    async def post(form: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        return await http.post("/auth/token", data=form, headers=headers or {})

    # scope beyond the registration
    data, _ = rp.auth({"grant_type": "client_credentials", "scope": "registry:write"})
    r = await post(data)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"
    # replayed assertion (same jti)
    assertion = rp.assertion()
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    assert (await post(form)).status_code == 200
    r = await post(form)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "access_token" not in r.json()
    # A replay is refused as such before any error of the grant (the grant runs while the
    # jti is being recorded, and its outcome must not leak past a replayed assertion).
    r = await post({**form, "scope": "registry:write"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    # Concurrent uses of one fresh assertion: exactly one token.
    form["client_assertion"] = rp.assertion()
    both = await asyncio.gather(post(form), post(form), post(form))
    assert sorted(r.status_code for r in both) == [200, 401, 401]
    # wrong audience
    form["client_assertion"] = rp.assertion(aud="https://elsewhere.example/token")
    assert (await post(form)).json()["error"] == "invalid_client"
    # the issuer as audience is fine
    form["client_assertion"] = rp.assertion(aud=ISSUER)
    assert (await post(form)).status_code == 200
    # expired, too long-lived, no jti, wrong sub
    now = int(time.time())
    for bad in (
        {"exp": now - 120},
        {"exp": now + 7200},
        {"jti": None},
        {"sub": "someone-else"},
    ):
        form["client_assertion"] = rp.assertion(**bad)
        r = await post(form)
        assert r.status_code == 401, bad
        assert r.json()["error"] == "invalid_client"
    # signed by another key
    other = await register(grant_type="client_credentials", key_slot=1)
    assert other.key is not None
    other.client_id = rp.client_id  # claims name rp, signature by other's key
    forged_form = dict(form, client_assertion=other.assertion())
    assert (await post(forged_form)).json()["error"] == "invalid_client"
    # missing and unknown grant types
    data, _ = rp.auth({})
    assert (await post(data)).json()["error"] == "invalid_request"
    data, _ = rp.auth({"grant_type": "password"})
    assert (await post(data)).json()["error"] == "unsupported_grant_type"
    # an authorization_code client may not use client_credentials
    user_rp = await register()
    data, _ = user_rp.auth({"grant_type": "client_credentials"})
    assert (await post(data)).json()["error"] == "unauthorized_client"
    # no authentication at all
    r = await post({"grant_type": "client_credentials", "client_id": rp.client_id})
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers
    # JSON body is not the protocol
    r = await http.post("/auth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    # repeated parameter
    r = await http.post(
        "/auth/token",
        content="grant_type=client_credentials&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.json()["error"] == "invalid_request"


async def test_client_secret_basic(http: httpx.AsyncClient, register: Any, app: Any) -> None:
    rp = await register(
        grant_type="client_credentials", token_endpoint_auth_method="client_secret_basic"
    )
    assert rp.secret
    r = await http.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic_header(rp.client_id, rp.secret)},
    )
    assert r.status_code == 200, r.text
    r = await http.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic_header(rp.client_id, "wrong")},
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    # client_secret_post is refused
    r = await http.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": rp.client_id,
            "client_secret": rp.secret,
        },
    )
    assert r.status_code == 401
    # when the development setting is off, client_secret_basic stops working
    settings = app.state.identity.settings
    settings.allow_client_secret_basic = False
    try:
        r = await http.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic_header(rp.client_id, rp.secret)},
        )
        assert r.status_code == 401
        doc = (await http.get("/.well-known/openid-configuration")).json()
        assert "client_secret_basic" not in doc["token_endpoint_auth_methods_supported"]
    finally:
        settings.allow_client_secret_basic = True
