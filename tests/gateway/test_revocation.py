"""Revoked tokens at the gateway (identity's revocation feed, servicekit.revocations), and
CORS on the OpenID Provider's paths left to the OP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from gateway_testkit import GatewayFactory

from gateway.app import Gateway
from gateway.config import Settings
from gateway.main import create_app
from servicekit.auth import TokenVerifier
from servicekit.errors import Unauthorized
from servicekit.jwks import JwksCache
from servicekit.revocations import RevocationFeed
from servicekit.testing import TestIssuer


class Feed:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    async def fetch(self, since: str | None) -> dict[str, Any]:
        return {"revoked": list(self.entries), "cursor": str(time.time())}


async def test_a_cached_token_is_refused_once_revoked(issuer: TestIssuer) -> None:
    source = Feed()
    feed = RevocationFeed(source.fetch, interval=1.0)
    verifier = TokenVerifier(
        JwksCache(issuer.fetch_jwks), issuer=issuer.issuer, audience="samen", revocations=feed
    )
    settings = Settings(
        environment="test", log_json=False, log_level="WARNING", auth_issuer=issuer.issuer
    )
    app: Gateway = create_app(settings, token_verifier=verifier)
    token = issuer.token(scopes=["registry:read"], jti="revoked-soon")
    principal = await app.gate.verify(token)
    assert await app.gate.verify(token) is principal  # served from the verifier's cache
    source.entries.append({"jti": "revoked-soon", "exp": time.time() + 300})
    assert await feed.poll()
    with pytest.raises(Unauthorized) as refused:
        await app.gate.verify(token)
    assert "revoked" in refused.value.detail
    assert token not in verifier
    await feed.aclose()


def test_the_gateway_reads_the_feed_with_its_own_client() -> None:
    settings = Settings(environment="test", log_json=False, log_level="WARNING")
    app: Gateway = create_app(settings)
    assert app.gate.verifier.revocations is not None
    assert settings.revocation_client()[0] == "samen-gateway"
    assert "auth_revocation_feed_age_seconds" in app.metrics.render().decode()


async def test_cors_on_the_op_paths_is_the_ops(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    async with gateway_factory(cors_origins=["*"]) as gw, gw.client() as client:
        preflight = await client.options(
            "/auth/userinfo",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        actual = await client.get("/auth/jwks", headers={"Origin": "https://evil.example"})
    # The preflight reached identity (here: the echoing test upstream) ...
    assert preflight.status_code == 200
    assert preflight.json()["path"] == "/auth/userinfo"
    # ... and the gateway's own origin list (even "*") adds nothing on the OP's paths.
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in actual.headers


async def test_the_feed_state_is_in_the_gateways_details(issuer: TestIssuer) -> None:
    source = Feed()
    feed = RevocationFeed(source.fetch, interval=1.0)
    verifier = TokenVerifier(
        JwksCache(issuer.fetch_jwks), issuer=issuer.issuer, audience="samen", revocations=feed
    )
    settings = Settings(
        environment="test", log_json=False, log_level="WARNING", auth_issuer=issuer.issuer
    )
    app: Gateway = create_app(settings, token_verifier=verifier)
    checks = app.local.states()
    # Never read yet: the gateway says so (and accepts tokens on its empty list meanwhile).
    assert checks["revocation-feed"]["status"] == "warn"
    assert await feed.poll()
    checks = app.local.states()
    assert checks["revocation-feed"]["status"] == "pass"
    assert checks["revocation-feed"]["revokedTokens"] == 0
    await feed.aclose()


def test_a_warning_in_the_details_is_no_failure() -> None:
    from gateway.health import overall_status

    up = {"status": "pass"}
    assert overall_status({"registry": up, "revocation-feed": up}) == "pass"
    assert overall_status({"registry": up, "revocation-feed": {"status": "warn"}}) == "warn"
    assert (
        overall_status({"registry": {"status": "fail"}, "revocation-feed": {"status": "warn"}})
        == "fail"
    )
