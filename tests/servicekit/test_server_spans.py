"""Every service's server span (servicekit.telemetry.ServerSpanMiddleware): one per
request, continuing the caller's trace, named by the route template, parent of the
spans made while the request runs, an error on a 5xx; none for health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from servicekit.app import create_service_app
from servicekit.db import Database
from servicekit.settings import ServiceSettings
from servicekit.telemetry import instrument_httpx_client
from servicekit.testing import TestIssuer

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/gadgets/{gadget_id}", operation_id="getGadget")
    async def gadget(gadget_id: int, request: Request) -> dict[str, int]:
        # This app's provider: the global one may be another app's in a test session.
        tracer = request.app.state.tracer_provider.get_tracer("test")
        with tracer.start_as_current_span("inner work"):
            return {"id": gadget_id}

    @router.get("/v1/broken", operation_id="broken")
    async def broken() -> dict[str, str]:
        raise RuntimeError("a bug")

    return router


@pytest.fixture
async def traced(
    tmp_path: Path, issuer: TestIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    app = create_service_app(
        service="gadgets",
        title="Gadgets",
        version="1.2.3",
        description="Traced gadgets",
        settings=ServiceSettings(environment="test", log_json=False),
        routers=[_router()],
        database=Database(f"sqlite+aiosqlite:///{tmp_path / 'gadgets.db'}"),
        token_verifier=issuer.verifier(),
        span_processors=[SimpleSpanProcessor(spans)],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c, spans


def _servers(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]


async def test_the_server_span_continues_the_callers_trace_and_names_the_route(
    traced: tuple[httpx.AsyncClient, InMemorySpanExporter],
) -> None:
    client, spans = traced
    r = await client.get(
        "/v1/gadgets/7?colour=red",
        headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", "tracestate": "vendor=x"},
    )
    assert r.status_code == 200
    (server,) = _servers(spans)
    assert server.name == "GET /v1/gadgets/{gadget_id}"
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == CALLER_SPAN
    assert server.parent.trace_state.get("vendor") == "x"
    assert dict(server.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/v1/gadgets/7",
        "url.query": "colour=red",
        "network.protocol.version": "1.1",
        "http.route": "/v1/gadgets/{gadget_id}",
        "http.response.status_code": 200,
    }
    assert server.status.status_code == StatusCode.UNSET
    assert server.resource.attributes["service.name"] == "gadgets"
    (inner,) = [s for s in spans.get_finished_spans() if s.name == "inner work"]
    assert inner.parent is not None
    assert inner.parent.span_id == server.context.span_id


async def test_a_new_trace_without_a_caller_an_error_on_5xx_and_no_span_for_probes(
    traced: tuple[httpx.AsyncClient, InMemorySpanExporter],
) -> None:
    client, spans = traced
    assert (await client.get("/v1/broken")).status_code == 500
    assert (await client.get("/v1/nothing-here")).status_code == 404
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200
    broken, missing = _servers(spans)
    assert broken.parent is None
    assert broken.name == "GET /v1/broken"
    assert broken.status.status_code == StatusCode.ERROR
    assert broken.attributes is not None
    assert broken.attributes["error.type"] == "500"
    assert missing.name == "GET"  # no route matched
    assert missing.attributes is not None
    assert missing.attributes["http.response.status_code"] == 404
    assert "http.route" not in missing.attributes
    assert missing.status.status_code == StatusCode.UNSET


async def test_a_bsn_in_the_address_stays_out_of_spans_and_problems(
    traced: tuple[httpx.AsyncClient, InMemorySpanExporter],
) -> None:
    """A BSN typed into a search or a path (999993653 passes the 11-check) is masked in
    the server span, a client span and the problem's instance and detail."""
    client, spans = traced
    found = await client.get("/v1/gadgets/999993653?q=9999.93.653&colour=red")
    assert found.status_code == 200
    missing = await client.get("/v1/people/999993653")
    assert missing.status_code == 404
    assert "999993653" not in missing.text
    assert missing.json()["instance"] == "/v1/people/[BSN]"

    called = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(called))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as http:
        instrument_httpx_client(http, provider)
        await http.get("/v1/search", params={"q": "999993653"})
    servers, clients = _servers(spans), called.get_finished_spans()
    assert (len(servers), len(clients)) == (2, 1)
    for span in [*servers, *clients]:
        assert span.attributes is not None
        assert "99999" not in str(dict(span.attributes)), span.attributes
    assert servers[0].attributes is not None
    assert servers[0].attributes["url.path"] == "/v1/gadgets/[BSN]"
    assert servers[0].attributes["url.query"] == "q=[BSN]&colour=red"
    assert clients[0].attributes is not None
    urls = {clients[0].attributes.get(k) for k in ("url.full", "http.url")} - {None}
    assert urls == {"http://registry.test/v1/search?q=[BSN]"}
