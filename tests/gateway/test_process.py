"""The gateway as it runs in production: `python -m gateway serve` in its own process
(uvicorn with uvloop and httptools), proxying to a real upstream process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from gateway_testkit import UpstreamProcess, free_port


@pytest.fixture(scope="module")
def served_gateway(upstreams: dict[str, UpstreamProcess]) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_IDENTITY_URL": upstreams["identity"].url,
        "GATEWAY_REGISTRY_URL": upstreams["registry"].url,
        "GATEWAY_PROCUREMENT_URL": upstreams["procurement"].url,
        "GATEWAY_PORTAL_URL": upstreams["portal"].url,
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_RATE_LIMIT_ANONYMOUS_BURST": "10000",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/live", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("python -m gateway serve did not start")
        yield url
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
        # Nothing went wrong inside the event loop (uvloop's transports included).
        assert b"Traceback" not in stderr, stderr.decode()[-2000:]


def test_served_gateway_proxies_with_uvloop(served_gateway: str) -> None:
    with httpx.Client(base_url=served_gateway, timeout=10) as client:
        for _ in range(3):  # reuses pooled upstream connections
            listing = client.get("/api/identity/v1/things?page=2")
            assert listing.status_code == 200
            assert listing.json()["_links"]["next"]["href"] == "/api/identity/v1/things?page=3"
        posted = client.post("/api/identity/v1/echo", content=b"x" * 200_000)
        assert posted.json()["bodyLength"] == 200_000
        head = client.head("/api/identity/v1/things")
        assert head.status_code == 200
        assert head.content == b""
        streamed = client.get("/api/identity/v1/stream?chunks=3&delay=0.05")
        assert streamed.text == "chunk-0\nchunk-1\nchunk-2\n"
        assert client.get("/.well-known/openid-configuration").status_code == 200
        assert client.get("/api/registry/v1/things").status_code == 401
        ready = client.get("/health/ready")
        assert ready.json()["status"] == "pass"
