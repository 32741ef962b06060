"""Faults with real processes: a service killed under load (the gateway answers
502/503/504 problem+json within its timeout, never hangs, and recovers once the service
is back), and a slow or failing JWKS endpoint (cached keys keep working)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from faultkit import Stack
from joserfc.jwk import KeySet

from servicekit.jwks import JwksCache
from servicekit.testing import TestIssuer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OUTAGE_STATUSES = {502, 503, 504}
READ_TIMEOUT = 5.0  # GATEWAY_READ_TIMEOUT in conftest


async def _load(
    client: httpx.AsyncClient, headers: dict[str, str], stop: asyncio.Event
) -> list[tuple[float, int, str, float]]:
    """(started, status, content type, seconds) of requests until ``stop``."""
    seen = []
    while not stop.is_set():
        started = time.monotonic()
        r = await client.get("/api/registry/v1/organisations", headers=headers)
        seen.append((started, r.status_code, r.headers.get("content-type", ""),
                     time.monotonic() - started))  # fmt: skip
    return seen


async def test_service_killed_under_load_then_restarted(stack: Stack) -> None:
    headers = stack.headers()
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        r = await client.get("/api/registry/v1/organisations", headers=headers)
        assert r.status_code == 200, r.text
        stop = asyncio.Event()
        workers = [asyncio.create_task(_load(client, headers, stop)) for _ in range(6)]
        await asyncio.sleep(1.0)
        killed_at = time.monotonic()
        stack.registry.kill()
        await asyncio.sleep(3.0)  # the outage, under load
        stop.set()
        results = [x for w in await asyncio.gather(*workers) for x in w]
        during = [x for x in results if x[0] > killed_at + 0.2]
        assert during, "requests were made during the outage"
        statuses = Counter(status for _, status, _, _ in during)
        assert set(statuses) <= OUTAGE_STATUSES, statuses
        for _, _status, content_type, seconds in during:
            assert content_type.startswith("application/problem+json")
            assert seconds < READ_TIMEOUT + 2, f"an outage answer took {seconds:.1f} s"
        r = await client.get("/api/registry/v1/organisations", headers=headers)
        assert r.status_code in OUTAGE_STATUSES
        problem = r.json()
        assert problem["status"] == r.status_code
        details = await client.get("/health/details")
        assert details.status_code == 503
        assert details.json()["checks"]["registry"]["status"] == "fail"
        # The gateway itself still serves: it stays in the load balancer.
        assert (await client.get("/health/ready")).status_code == 200

        # Restart: once the registry is live again, the gateway serves it within 2 s.
        stack.registry.start()
        stack.registry.wait_live()
        back_at = time.monotonic()
        while True:
            r = await client.get("/api/registry/v1/organisations", headers=headers)
            if r.status_code == 200:
                break
            assert r.status_code in OUTAGE_STATUSES, r.text
            assert time.monotonic() - back_at < 2.0, "no recovery within 2 s of the restart"
            await asyncio.sleep(0.05)


async def test_slow_and_failing_jwks_keep_cached_keys_working(stack: Stack) -> None:
    headers = stack.headers()
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        r = await client.get("/api/registry/v1/organisations", headers=headers)
        assert r.status_code == 200, r.text
        hits = stack.jwks.hits
        try:
            stack.jwks.delay = 8.0  # slower than the fetchers' 5 s timeout
            for _ in range(5):
                started = time.monotonic()
                r = await client.get("/api/registry/v1/organisations", headers=stack.headers())
                assert r.status_code == 200, r.text
                assert time.monotonic() - started < 2.0, "a request waited for the JWKS"
            stack.jwks.delay = 0.0
            stack.jwks.down = True
            r = await client.get("/api/registry/v1/organisations", headers=headers)
            assert r.status_code == 200, r.text
            # A token signed by an unknown key: refused (no hang) while keys are unavailable.
            stranger = TestIssuer(issuer=stack.issuer.issuer, audience=stack.issuer.audience)
            started = time.monotonic()
            r = await client.get(
                "/api/registry/v1/organisations",
                headers=stranger.headers(scopes=["registry:read"]),
            )
            assert r.status_code == 401, r.text
            assert time.monotonic() - started < 7.0
        finally:
            stack.jwks.delay = 0.0
            stack.jwks.down = False
        assert stack.jwks.hits - hits <= 4, "the keys were fetched again for known kids"


async def test_stale_jwks_cache_with_a_slow_issuer_does_not_stall_every_request(
    issuer: TestIssuer,
) -> None:
    """Once the cached keys are older than max_age and the issuer is slow, requests
    should keep using the cached keys while a refresh is tried now and then."""
    calls = 0

    async def slow_fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            await asyncio.sleep(1.0)  # stands for the fetcher's 5 s timeout
            raise httpx.ReadTimeout("slow issuer")
        return issuer.jwks()

    cache = JwksCache(slow_fetch, max_age=0.2, min_refresh_interval=10.0)
    assert isinstance(await cache.get(issuer.key.kid), KeySet)
    await asyncio.sleep(0.3)  # the keys are now stale
    started = time.monotonic()
    for _ in range(3):
        await cache.get(issuer.key.kid)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
