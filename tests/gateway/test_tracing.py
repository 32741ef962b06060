"""Trace continuity (W3C trace context), request ids, and metrics per route and upstream."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from gateway_testkit import GatewayFactory, RunningGateway, serve
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from servicekit.app import create_service_app
from servicekit.db import Database
from servicekit.settings import ServiceSettings
from servicekit.testing import TestIssuer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def _spans(gw: RunningGateway) -> tuple[object, object]:
    spans = gw.spans.get_finished_spans()
    server = next(s for s in spans if s.kind == SpanKind.SERVER)
    client = next(s for s in spans if s.kind == SpanKind.CLIENT)
    return server, client


async def test_trace_context_continues_from_the_client(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    headers = {
        **issuer.headers(scopes=["registry:read"]),
        "traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01",
        "tracestate": "vendor=abc",
        "X-Request-ID": "req-123",
    }
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/echo", headers=headers)
    seen = {k.lower(): v for k, v in response.json()["headers"]}
    server, client_span = _spans(gw)
    assert format(server.context.trace_id, "032x") == TRACE_ID  # type: ignore[attr-defined]
    assert format(server.parent.span_id, "016x") == CLIENT_SPAN  # type: ignore[attr-defined]
    assert client_span.parent.span_id == server.context.span_id  # type: ignore[attr-defined]
    _version, trace_id, parent_id, _flags = seen["traceparent"].split("-")
    assert trace_id == TRACE_ID
    assert parent_id == format(client_span.context.span_id, "016x")  # type: ignore[attr-defined]
    assert seen["tracestate"] == "vendor=abc"
    assert server.name == "GET registry"  # type: ignore[attr-defined]
    assert server.attributes["http.response.status_code"] == 200  # type: ignore[attr-defined]
    assert client_span.attributes["peer.service"] == "registry"  # type: ignore[attr-defined]
    # The request id goes upstream and comes back.
    assert seen["x-request-id"] == "req-123"
    assert response.headers["x-request-id"] == "req-123"


async def test_trace_starts_here_and_request_id_is_generated(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    async with gw.client() as client:
        response = await client.get(
            "/api/registry/v1/echo",
            headers={**issuer.headers(scopes=["registry:read"]), "X-Request-ID": "bad id!"},
        )
    seen = {k.lower(): v for k, v in response.json()["headers"]}
    server, _ = _spans(gw)
    assert server.parent is None  # type: ignore[attr-defined]
    assert seen["traceparent"].split("-")[1] == format(server.context.trace_id, "032x")  # type: ignore[attr-defined]
    generated = response.headers["x-request-id"]
    assert generated != "bad id!"
    assert len(generated) == 32
    assert seen["x-request-id"] == generated


async def test_service_spans_share_the_gateways_trace(
    gateway_factory: GatewayFactory, issuer: TestIssuer, tmp_path: Path
) -> None:
    """A real servicekit service behind the gateway: its server span is a child of the
    gateway's client span, in the same trace."""
    service_spans = InMemorySpanExporter()
    router = APIRouter()

    @router.get("/v1/pings", operation_id="listPings", summary="Pings", tags=["pings"])
    async def pings() -> dict[str, str]:
        return {"pong": "yes"}

    service = create_service_app(
        service="registry",
        title="Traced",
        version="1.0.0",
        description="A service for the trace test",
        settings=ServiceSettings(environment="test", log_json=False),
        routers=[router],
        database=Database(f"sqlite+aiosqlite:///{tmp_path / 'traced.db'}"),
        token_verifier=issuer.verifier(),
        span_processors=[SimpleSpanProcessor(service_spans)],
    )
    async with serve(service) as service_url, gateway_factory(registry_url=service_url) as gw:
        async with gw.client() as client:
            response = await client.get(
                "/api/registry/v1/pings", headers=issuer.headers(scopes=["registry:read"])
            )
        assert response.status_code == 200
        assert response.headers["api-version"] == "1.0.0"
        _, gateway_client = _spans(gw)
        service_server = next(
            s for s in service_spans.get_finished_spans() if s.kind == SpanKind.SERVER
        )
    assert service_server.context.trace_id == gateway_client.context.trace_id  # type: ignore[attr-defined]
    assert service_server.parent.span_id == gateway_client.context.span_id  # type: ignore[union-attr, attr-defined]


async def test_metrics_per_route_and_upstream(gw: RunningGateway, issuer: TestIssuer) -> None:
    async with gw.client() as client:
        await client.get(
            "/api/registry/v1/things", headers=issuer.headers(scopes=["registry:read"])
        )
        await client.get("/api/registry/v1/things")  # 401
        await client.get("/api/nowhere")
        text = (await client.get("/metrics")).text
    assert 'gateway_requests_total{method="GET",route="registry",status="200"} 1.0' in text
    assert 'gateway_requests_total{method="GET",route="registry",status="401"} 1.0' in text
    assert 'gateway_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'gateway_upstream_requests_total{status="200",upstream="registry"} 1.0' in text
    assert 'gateway_upstream_duration_seconds_count{upstream="registry"} 1.0' in text
    assert 'gateway_request_duration_seconds_count{route="registry"} 2.0' in text
    assert 'gateway_auth_failures_total{route="registry",status="401"} 1.0' in text
    assert 'gateway_circuit_breaker_state{upstream="procurement"} 0.0' in text


async def test_an_unsampled_caller_is_followed(gw: RunningGateway, issuer: TestIssuer) -> None:
    """The tracer's sampler decides (parent-based by default): a caller that did not
    sample its trace gets no spans recorded here, and the upstream is told the same."""
    headers = {
        **issuer.headers(scopes=["registry:read"]),
        "traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-00",
    }
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/echo", headers=headers)
    assert response.status_code == 200
    seen = {k.lower(): v for k, v in response.json()["headers"]}
    _version, trace_id, parent_id, flags = seen["traceparent"].split("-")
    assert trace_id == TRACE_ID
    assert parent_id != CLIENT_SPAN  # the gateway's own (unrecorded) client span
    assert flags == "00"
    assert gw.spans.get_finished_spans() == ()
