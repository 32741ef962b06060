"""Gateway test fixtures: real upstream processes on free ports and an in-process gateway
served by uvicorn on a free port (real sockets, real streaming)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.config import Settings
from gateway.main import create_app
from servicekit.testing import TestIssuer

# Test modules import the helpers by name (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

from gateway_testkit import (
    GatewayFactory,
    RunningGateway,
    UpstreamProcess,
    serve,
)


@pytest.fixture(scope="session")
def upstreams() -> Iterator[dict[str, UpstreamProcess]]:
    procs = {n: UpstreamProcess(n) for n in ("registry", "procurement", "identity", "portal")}
    try:
        for proc in procs.values():
            proc.spawn()  # start all three at once, then wait
        for proc in procs.values():
            proc.wait()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture
def gateway_factory(upstreams: dict[str, UpstreamProcess], issuer: TestIssuer) -> GatewayFactory:
    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[RunningGateway]:
        values: dict[str, Any] = {
            "environment": "test",
            "log_json": False,
            "log_level": "WARNING",
            "registry_url": upstreams["registry"].url,
            "procurement_url": upstreams["procurement"].url,
            "identity_url": upstreams["identity"].url,
            "portal_url": upstreams["portal"].url,
            "auth_issuer": issuer.issuer,
            "rate_limit_per_second": 1000.0,
            "rate_limit_burst": 1000,
            "rate_limit_anonymous_per_second": 1000.0,
            "rate_limit_anonymous_burst": 1000,
            "redis_url": "",
        }
        values.update(overrides)
        exporter = InMemorySpanExporter()
        app = create_app(
            Settings(**values),
            token_verifier=issuer.verifier(),
            span_processors=[SimpleSpanProcessor(exporter)],
        )
        async with serve(app) as url:
            yield RunningGateway(url, app, exporter)

    return run


@pytest.fixture
async def gw(gateway_factory: GatewayFactory) -> AsyncIterator[RunningGateway]:
    async with gateway_factory() as running:
        yield running
