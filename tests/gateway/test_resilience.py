"""Resilience with real upstream processes that are down, slow or flapping: 502, 504,
503 from the circuit breaker, retries only where safe, and no route blocking another."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from gateway_testkit import GatewayFactory, UpstreamProcess, free_port

from gateway.breaker import CircuitBreaker, State
from servicekit.testing import TestIssuer


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_down_upstream_is_502_and_only_idempotent_calls_retry(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    auth = issuer.headers(scopes=["registry:read", "registry:write"])
    async with (
        gateway_factory(registry_url=down, breaker_failures=100) as gw,
        gw.client() as client,
    ):
        get = await client.get("/api/registry/v1/things", headers=auth)
        retries_after_get = _metric(
            (await client.get("/metrics")).text, "gateway_upstream_retries_total"
        )
        post = await client.post("/api/registry/v1/things", json={}, headers=auth)
        metrics = (await client.get("/metrics")).text
        other = await client.get(
            "/api/procurement/v1/things", headers=issuer.headers(scopes=["procurement:read"])
        )
    for response in (get, post):
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
        detail = response.json()["detail"]
        assert detail == "The registry service could not be reached."
        assert "127.0.0.1" not in detail  # no upstream internals
    assert retries_after_get == 1.0
    # The POST added no retry: a write is never repeated.
    assert _metric(metrics, "gateway_upstream_retries_total") == 1.0
    assert (
        _metric(metrics, 'gateway_upstream_errors_total{kind="connect",upstream="registry"}') == 2.0
    )
    assert other.status_code == 200


async def test_slow_upstream_is_504_and_does_not_block_other_routes(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:read", "procurement:read"])
    async with gateway_factory(read_timeouts={"registry": 0.5}) as gw, gw.client() as client:
        started = time.monotonic()
        slow = asyncio.create_task(client.get("/api/registry/v1/slow?delay=3", headers=auth))
        await asyncio.sleep(0.1)
        fast = await client.get("/api/procurement/v1/slow?delay=0", headers=auth)
        fast_done = time.monotonic() - started
        response = await slow
        elapsed = time.monotonic() - started
    assert fast.status_code == 200
    assert fast_done < 0.45
    assert response.status_code == 504
    assert response.json()["title"] == "Gateway Timeout"
    assert 0.45 <= elapsed < 2.0


async def test_exhausted_pool_of_one_upstream_does_not_starve_another(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:read", "procurement:read"])
    async with gateway_factory(pool_size=2, connect_timeout=0.3) as gw, gw.client() as client:
        slow = [
            asyncio.create_task(client.get("/api/registry/v1/slow?delay=1", headers=auth))
            for _ in range(4)
        ]
        await asyncio.sleep(0.1)
        fast = await client.get("/api/procurement/v1/things", headers=auth)
        codes = sorted(r.status_code for r in await asyncio.gather(*slow))
    assert fast.status_code == 200
    # Two calls had the pool; the two waiting for a connection gave up with 504.
    assert codes == [200, 200, 504, 504]


async def test_breaker_opens_probes_and_closes_with_a_flapping_upstream(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    flapping = UpstreamProcess("registry")  # not started yet: the port is dead
    auth = issuer.headers(scopes=["registry:read"])
    settings = {
        "registry_url": flapping.url,
        "breaker_failures": 2,
        "breaker_open_seconds": 1.0,
        "connect_retries": 0,
    }
    try:
        async with gateway_factory(**settings) as gw, gw.client() as client:
            codes = [
                (await client.get("/api/registry/v1/things", headers=auth)).status_code
                for _ in range(2)
            ]
            assert codes == [502, 502]
            refused = await client.get("/api/registry/v1/things", headers=auth)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["detail"] == "The registry service is temporarily unavailable."
            assert gw.app.upstreams["registry"].state is State.OPEN
            metrics = (await client.get("/metrics")).text
            assert 'gateway_circuit_breaker_state{upstream="registry"} 1.0' in metrics

            await asyncio.to_thread(flapping.start)  # the service comes back
            await asyncio.sleep(1.05)
            probe = await client.get("/api/registry/v1/things", headers=auth)
            assert probe.status_code == 200
            assert gw.app.upstreams["registry"].state is State.CLOSED

            await asyncio.to_thread(flapping.kill)  # and goes away again
            codes = [
                (await client.get("/api/registry/v1/things", headers=auth)).status_code
                for _ in range(3)
            ]
            assert codes == [502, 502, 503]
            details = await client.get("/health/details")
            assert details.status_code == 503
            checks = details.json()["checks"]
            assert checks["registry"]["status"] == "fail"
            assert checks["registry"]["breaker"] == "open"
            assert checks["procurement"] == {"status": "pass", "breaker": "closed"}
    finally:
        flapping.stop()


async def test_upstream_dying_mid_stream_aborts_the_response(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    dying = UpstreamProcess("registry")
    await asyncio.to_thread(dying.start)
    auth = issuer.headers(scopes=["registry:read"])
    try:
        path = "/api/registry/v1/stream?chunks=20&delay=0.1"
        async with (
            gateway_factory(registry_url=dying.url) as gw,
            gw.client() as client,
            client.stream("GET", path, headers=auth) as response,
        ):
            assert response.status_code == 200
            chunks = response.aiter_raw()
            assert (await chunks.__anext__()).startswith(b"chunk-0")
            await asyncio.to_thread(dying.kill)
            # The client learns the body is incomplete (no clean end of a chunked body).
            with pytest.raises(httpx.HTTPError):
                async for _ in chunks:
                    pass
    finally:
        dying.stop()


def test_breaker_half_open_allows_one_probe() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, open_seconds=5, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is State.OPEN
    assert not breaker.allow()
    now[0] = 3.2
    assert breaker.retry_after() == 2
    now[0] = 5.0
    assert breaker.allow()  # the probe
    assert breaker.state is State.HALF_OPEN
    assert not breaker.allow()  # only one at a time
    breaker.failure()  # the probe failed: open again, with a new pause
    assert breaker.state is State.OPEN
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state is State.CLOSED
    assert breaker.allow()
    assert breaker.allow()
