"""OpenTelemetry tracing and Prometheus metrics.

Traces: a tracer provider per service with its name and version; FastAPI's own request
tracing (server spans), SQLAlchemy and httpx instrumentation; the OTLP exporter only when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; stable HTTP semantic-convention names. Metrics: a
per-app registry so several apps can live in one process (tests), served at ``/metrics``.

Per request a service records one server span plus one span per SQL statement (also for
``Database.fetch``). Left out on purpose (they cost CPU on every request and carry nothing
a trace reader needs): per-dependency "operation" spans, ASGI send/receive spans (the
server span already has status and duration) and SQLAlchemy's ``connect`` span around
every pool checkout (a checkout is not a connection; new connections are rare and visible
in the first statement's latency).
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from .middleware import ASGIApp, Message, Receive, Scope, Send

_global_provider_set = False


def setup_tracing(
    service: str,
    version: str,
    otlp_endpoint: str = "",
    extra_processors: list[SpanProcessor] | None = None,
    disabled: bool = False,
) -> TracerProvider:
    """Create the service's tracer provider (global on first call)."""
    global _global_provider_set
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.version": version})
    )
    if not disabled and otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    if not _global_provider_set:
        trace.set_tracer_provider(provider)
        _global_provider_set = True
    return provider


# Paths probed every few seconds by orchestrators and scrapers: no spans.
UNTRACED_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})


def server_telemetry(provider: TracerProvider) -> TelemetryConfig:
    """FastAPI's own request tracing: one server span per request, continuing the
    caller's ``traceparent``, named by the route template that FastAPI's routing already
    matched (the contrib instrumentor matched every request against the whole route table
    a second time, about a quarter of a simple read's CPU). Metrics stay with Prometheus
    and logs with servicekit's logging, so FastAPI records neither; per-dependency
    "operation" spans are off (they cost more than the reads they would describe)."""
    return {
        "tracer_provider": provider,
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "exclude": lambda scope: scope.get("path") in UNTRACED_PATHS,
    }


def instrument_database(provider: TracerProvider, engine: Any | None) -> None:
    """One client span per SQL statement of the service's engine."""
    if engine is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    # One engine per service process; a second app in the same process (tests)
    # keeps the first instrumentation rather than stacking listeners.
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(
            engine=engine.sync_engine, tracer_provider=provider, enable_commenter=False
        )
        from opentelemetry.instrumentation.utils import unwrap
        from sqlalchemy.engine.base import Engine

        # The instrumentor wraps Engine.connect to open a "connect" span on every pool
        # checkout; statement spans stay (they are engine event listeners).
        unwrap(Engine, "connect")


def instrument_httpx_client(client: Any, provider: TracerProvider) -> None:
    """Trace one httpx client's calls (service-to-service) with ``traceparent``."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_server_requests",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_server_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.service = service
        # Label lookups take a lock and build tuples; children are cached per label set
        # (bounded: route templates, methods and status codes are finite).
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.duration.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class MetricsMiddleware:
    """Counts requests and latency per route template (not per raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.observe(method, template, status, time.perf_counter() - started)


def metrics_endpoint(metrics: Metrics) -> Any:
    async def endpoint(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return endpoint
