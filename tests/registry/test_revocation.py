"""The registry refuses tokens that identity published as revoked (servicekit.revocations),
and reads identity's revocation feed with its own client: private_key_jwt when a private JWK
is configured (production), never the development secret then."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey

from registry.config import Settings
from registry.main import create_app
from servicekit.auth import TokenVerifier
from servicekit.db import Database
from servicekit.jwks import JwksCache
from servicekit.revocations import RevocationFeed, feed_from_settings
from servicekit.testing import TestIssuer


class Feed:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    async def fetch(self, since: str | None) -> dict[str, Any]:
        return {"revoked": list(self.entries), "cursor": str(time.time())}


def settings(registry_db: Database, **extra: Any) -> Settings:
    return Settings(
        environment="test",
        database_url=registry_db.url,
        otel_sdk_disabled=True,
        log_json=False,
        **extra,
    )


async def test_a_revoked_token_is_refused(registry_db: Database, issuer: TestIssuer) -> None:
    source = Feed()
    feed = RevocationFeed(source.fetch, interval=1.0)
    verifier = TokenVerifier(
        JwksCache(issuer.fetch_jwks), issuer=issuer.issuer, audience="samen", revocations=feed
    )
    app: FastAPI = create_app(settings(registry_db), database=registry_db, token_verifier=verifier)
    token = issuer.token(scopes=["registry:read"], jti="registry-revoked-soon")
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
        assert (await client.get("/v1/facilities", headers=headers)).status_code == 200
        # A cached answer or a cached verification does not outlive the revocation.
        assert (await client.get("/v1/facilities", headers=headers)).status_code == 200
        source.entries.append({"jti": "registry-revoked-soon", "exp": time.time() + 300})
        assert await feed.poll()
        refused = await client.get("/v1/facilities", headers=headers)
        assert refused.status_code == 401, refused.text
        assert "revoked" in refused.json()["detail"]
        other = issuer.headers(scopes=["registry:read"], jti="still-fine")
        assert (await client.get("/v1/facilities", headers=other)).status_code == 200
    await feed.aclose()


def test_the_registry_reads_the_feed_with_its_own_client(registry_db: Database) -> None:
    app: FastAPI = create_app(settings(registry_db), database=registry_db)
    assert app.state.token_verifier.revocations is not None
    assert app.state.settings.revocation_client()[0] == "samen-registry"


async def test_with_a_private_jwk_the_feed_uses_private_key_jwt(registry_db: Database) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "registry-1", "alg": "RS256"})
    configured = settings(
        registry_db,
        auth_issuer="https://samen.example.org",
        auth_jwks_url="http://identity:8001/auth/jwks",
        auth_client_private_key_jwk=json.dumps(key.as_dict(private=True)),
    )
    seen: list[httpx.Request] = []

    def identity(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"revoked": [], "cursor": "c1"})

    feed = feed_from_settings(configured, transport=httpx.MockTransport(identity))
    assert feed is not None
    assert await feed.poll()
    await feed.aclose()
    (request,) = seen
    assert str(request.url) == "http://identity:8001/auth/revocations"
    assert "authorization" not in request.headers, "no client secret when a key is configured"
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form["client_id"] == "samen-registry"
    claims = jwt.decode(form["client_assertion"], key).claims
    assert claims["iss"] == claims["sub"] == "samen-registry"
    assert claims["aud"] == "https://samen.example.org"
