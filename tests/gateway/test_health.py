"""Readiness is the gateway's own: a stopped upstream or Redis leaves it ready (so every
replica stays in the load balancer) and shows in /health/details instead."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from gateway_testkit import GatewayFactory, UpstreamProcess, free_port

from gateway.config import Settings
from gateway.main import create_app
from servicekit.testing import TestIssuer


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A Redis of this test's own (the shared one must not be stopped)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield proc, port
    finally:
        proc.kill()
        proc.wait(5)


async def test_stopped_upstream_and_redis_leave_the_gateway_ready(
    gateway_factory: GatewayFactory,
    issuer: TestIssuer,
    own_redis: tuple[subprocess.Popen[bytes], int],
) -> None:
    redis_server, redis_port = own_redis
    registry = UpstreamProcess("registry")
    await asyncio.to_thread(registry.start)
    settings = {"registry_url": registry.url, "redis_url": f"redis://127.0.0.1:{redis_port}/0"}
    auth = issuer.headers(scopes=["registry:read"])
    try:
        async with gateway_factory(**settings) as gw, gw.client() as client:
            before = await client.get("/health/details")
            assert before.status_code == 200, before.text
            assert before.headers["content-type"] == "application/health+json"
            assert set(before.json()["checks"]) == {
                "registry",
                "procurement",
                "identity",
                "portal",
                "rate-limit-store",
            }

            await asyncio.to_thread(registry.stop)
            redis_server.kill()
            redis_server.wait(5)
            assert (await client.get("/api/registry/v1/things", headers=auth)).status_code == 502

            ready = await client.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["status"] == "pass"
            details = await client.get("/health/details")
            assert details.status_code == 503
            body = details.json()
            assert body["status"] == "fail"
            assert body["checks"]["registry"]["status"] == "fail"
            assert body["checks"]["rate-limit-store"]["status"] == "fail"
            assert body["checks"]["procurement"] == {"status": "pass", "breaker": "closed"}
            live = await client.get("/health/live")
            assert live.json()["status"] == "pass"
    finally:
        registry.stop()


async def test_not_ready_outside_its_lifespan(issuer: TestIssuer) -> None:
    """Before start-up (and after shut-down) the gateway says it cannot serve."""
    settings = Settings(environment="test", log_json=False, auth_issuer=issuer.issuer)
    app = create_app(settings, token_verifier=issuer.verifier())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "fail"
