"""The revocation feed: a revoked token is refused (cached or not) once the feed lists it;
identity unreachable: the last list keeps working and the staleness shows in the details
and metrics."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from prometheus_client import CollectorRegistry, generate_latest

from servicekit.auth import TokenVerifier
from servicekit.errors import Unauthorized
from servicekit.jwks import JwksCache
from servicekit.revocations import (
    ClientCredentials,
    RevocationFeed,
    RevocationFeedCollector,
    RevocationList,
    feed_from_settings,
    http_feed_fetcher,
    revocation_details,
    revocations_url,
)
from servicekit.settings import ServiceSettings
from servicekit.testing import TestIssuer


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


class FakeIdentity:
    """The feed as identity serves it, with a switch to make it unreachable."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.down = False
        self.seen_since: list[str | None] = []

    async def fetch(self, since: str | None) -> dict[str, Any]:
        self.seen_since.append(since)
        if self.down:
            raise httpx.ConnectError("identity is down")
        return {"revoked": list(self.entries), "cursor": str(time.time())}


def verifier_with(issuer: TestIssuer, feed: RevocationFeed) -> TokenVerifier:
    return TokenVerifier(
        JwksCache(issuer.fetch_jwks), issuer=issuer.issuer, audience="samen", revocations=feed
    )


async def test_a_revoked_token_is_refused_cached_or_not(issuer: TestIssuer) -> None:
    identity = FakeIdentity()
    feed = RevocationFeed(identity.fetch, interval=1.0)
    verifier = verifier_with(issuer, feed)
    cached, fresh = issuer.token(), issuer.token()
    await verifier.verify(cached)  # now in the verifier's cache
    assert await feed.poll()
    for token in (cached, fresh):
        identity.entries.append({"jti": jti_of(token), "exp": time.time() + 300})
    assert await feed.poll()
    assert identity.seen_since[0] is None
    assert identity.seen_since[1] is not None
    for token in (cached, fresh):
        with pytest.raises(Unauthorized) as excinfo:
            await verifier.verify(token)
        assert "revoked" in excinfo.value.detail
    assert await verifier.verify(issuer.token())  # others still pass


async def test_identity_down_keeps_the_last_list_and_says_so(issuer: TestIssuer) -> None:
    identity = FakeIdentity()
    now = [1000.0]
    feed = RevocationFeed(identity.fetch, interval=2.0, clock=lambda: now[0])
    verifier = verifier_with(issuer, feed)
    revoked = issuer.token()
    identity.entries.append({"jti": jti_of(revoked), "exp": time.time() + 300})
    assert await feed.poll()
    assert feed.details()["status"] == "pass"
    identity.down = True
    now[0] += 30
    assert not await feed.poll()
    with pytest.raises(Unauthorized):
        await verifier.verify(revoked)
    assert await verifier.verify(issuer.token())  # verification goes on without identity
    details = revocation_details(verifier)
    assert details["status"] == "warn"
    assert details["ageSeconds"] == 30.0
    assert details["revokedTokens"] == 1
    assert "unreachable" in details["output"]
    assert "ConnectError" in details["output"]
    registry = CollectorRegistry()
    registry.register(RevocationFeedCollector(feed))
    text = generate_latest(registry).decode()
    assert "auth_revocation_feed_age_seconds 30.0" in text
    assert "auth_revocation_feed_entries 1.0" in text
    identity.down = False
    assert await feed.poll()
    assert revocation_details(verifier)["status"] == "pass"


async def test_the_feed_polls_in_the_background() -> None:
    identity = FakeIdentity()
    feed = RevocationFeed(identity.fetch, interval=0.01)
    await feed.start()
    try:
        identity.entries.append({"jti": "later", "exp": time.time() + 60})
        for _ in range(500):
            if "later" in feed.revoked:
                break
            await asyncio.sleep(0.01)
        assert "later" in feed.revoked
    finally:
        await feed.aclose()


def test_expired_entries_are_forgotten() -> None:
    revoked = RevocationList()
    revoked.add("old", 100.0)
    revoked.add("new", 10_000.0)
    revoked.prune(1000.0)
    assert "old" not in revoked
    assert "new" in revoked
    assert ["not", "hashable"] not in revoked


def test_never_read_and_not_configured_are_reported() -> None:
    identity = FakeIdentity()
    assert RevocationFeed(identity.fetch).details()["status"] == "warn"
    assert feed_from_settings(ServiceSettings()) is None
    unchecked = TokenVerifier(JwksCache(identity.fetch), issuer="x", audience="samen")
    assert revocation_details(unchecked)["status"] == "warn"
    assert revocations_url("http://id:8001/auth/jwks") == "http://id:8001/auth/revocations"


async def test_the_feed_is_read_with_the_services_client_credentials() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"revoked": [], "cursor": "1"})

    transport = httpx.MockTransport(answer)
    basic = ClientCredentials("samen-registry", "secret")
    fetch, close = http_feed_fetcher("http://id/auth/revocations", basic, transport=transport)
    await fetch(None)
    await fetch("1")
    await close()
    assert seen[0].headers["authorization"].startswith("Basic ")
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(seen[1].content.decode()) == {"since": ["1"]}
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
    signed = ClientCredentials(
        "samen-gateway", private_key_jwk=json.dumps(key.as_dict(private=True)), audience="iss"
    )
    fetch, close = http_feed_fetcher("http://id/auth/revocations", signed, transport=transport)
    await fetch(None)
    await close()
    form = parse_qs(seen[2].content.decode())
    assert "authorization" not in seen[2].headers
    claims = jwt.decode(form["client_assertion"][0], key).claims
    assert claims["iss"] == claims["sub"] == "samen-gateway"
    assert claims["aud"] == "iss"


async def test_a_service_without_identity_stays_ready_and_reports_the_feed(
    demo_database: Any, issuer: TestIssuer
) -> None:
    """identity unreachable at start-up: the service starts, stays ready (readiness never
    depends on another service), and the feed's state says so in details and metrics."""
    from servicekit.app import create_service_app

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    settings = ServiceSettings(
        environment="test",
        auth_jwks_url=f"http://127.0.0.1:{dead}/auth/jwks",
        auth_client_id="samen-demo",
        auth_client_secret="secret",
    )
    app = create_service_app(
        service="demo",
        title="Demo API",
        version="1.2.3",
        description="Demo service",
        settings=settings,
        database=demo_database,
    )
    verifier = app.state.token_verifier
    assert verifier.revocations is not None
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://demo") as client,
    ):
        ready = await client.get("/health/ready")
        metrics = await client.get("/metrics")
    assert ready.status_code == 200, ready.text
    assert "auth_revocation_feed_age_seconds -1.0" in metrics.text
    details = revocation_details(verifier)
    assert details["status"] == "warn"
    assert "not been read yet" in details["output"]


def test_production_needs_the_private_key_of_the_feed_client() -> None:
    from gateway.config import Settings as GatewaySettings
    from procurement.config import Settings as ProcurementSettings

    with pytest.raises(RuntimeError, match="samen-gateway"):
        GatewaySettings(environment="production").check_revocation_client()
    with pytest.raises(RuntimeError, match="private JWK"):
        ProcurementSettings(environment="production").check_revocation_client()
    GatewaySettings(
        environment="production", auth_client_private_key_jwk="{}"
    ).check_revocation_client()
    GatewaySettings(environment="development").check_revocation_client()
    # No feed client configured: nothing to refuse (the details say revocation is off).
    GatewaySettings(environment="production", auth_client_id="").check_revocation_client()
