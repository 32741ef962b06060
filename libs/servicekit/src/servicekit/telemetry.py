"""OpenTelemetry tracing and Prometheus metrics.

Traces: a tracer provider per service with its name and version; one server span per
request (:class:`ServerSpanMiddleware`), SQLAlchemy and httpx instrumentation; the OTLP exporter only when
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
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode
from opentelemetry.util.http import redact_url
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from .masking import mask_bsns, mask_query, mask_url
from .middleware import ASGIApp, Receive, Scope, Send, StatusSend, scope_headers
from .spans import SpanRecorder, parent_span_context

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


def fastapi_telemetry_off() -> TelemetryConfig:
    """FastAPI's own request telemetry, switched off: :class:`ServerSpanMiddleware` records
    the server spans (FastAPI's tracing would add a second route match per request),
    metrics stay with Prometheus and logs with servicekit's logging. Explicitly off, as
    FastAPI would otherwise trace through the global tracer provider that
    :func:`setup_tracing` sets."""
    return {
        "tracing": False,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
    }


class ServerSpanMiddleware:
    """One server span per request (outermost of the service's middleware): it continues
    the caller's W3C ``traceparent``, is the current span while the request runs (the
    parent of the database spans, the trace id of the log lines) and is named by the route
    template the request was routed to (``GET /v1/offerings/{offeringId}``), with the
    stable HTTP semantic-convention attributes.
    Health probes and ``/metrics`` get no span."""

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        self.app = app
        self.spans = SpanRecorder(provider.get_tracer("servicekit.http"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        found = scope_headers(scope, b"traceparent", b"tracestate")
        parent = parent_span_context(found.get(b"traceparent"), found.get(b"tracestate"))
        method = scope["method"]
        span = self.spans.start(method, parent, SpanKind.SERVER, {})
        token = otel_context.attach(
            trace.set_span_in_context(NonRecordingSpan(span.get_span_context()))
        )
        sent = StatusSend(send, status=0)
        error: BaseException | None = None
        try:
            await self.app(scope, receive, sent)
        except BaseException as exc:
            error = exc
            raise
        finally:
            otel_context.detach(token)
            attributes: dict[str, Any] = {
                "http.request.method": method,
                "url.scheme": scope.get("scheme", "http"),
                # A BSN may come in the address (a mistyped search, a path): never into a
                # trace. ``path`` is decoded already; the query is masked by what it means.
                "url.path": mask_bsns(scope["path"]),
                "network.protocol.version": scope.get("http_version", "1.1"),
            }
            if scope.get("query_string"):
                attributes["url.query"] = mask_query(scope["query_string"].decode("latin-1"))
            route = getattr(scope.get("route"), "path", None)
            if route:
                span.update_name(f"{method} {route}")
                attributes["http.route"] = route
            status = sent.status or 0
            if status:
                attributes["http.response.status_code"] = status
            if error is not None or status >= 500 or not status:
                attributes["error.type"] = type(error).__qualname__ if error else str(status)
                span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(attributes)
            span.end()


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


# Where the httpx instrumentation puts the address called (new and old semantic conventions).
URL_ATTRIBUTES = ("url.full", "http.url")


def mask_url_attributes(span: trace.Span, url: Any) -> None:
    """The address of a client span without BSNs (a search for one, a path naming one)."""
    called = redact_url(str(url))
    masked = mask_url(called)
    if masked != called and span.is_recording():
        recorded = getattr(span, "attributes", None) or {}  # the SDK's spans show theirs
        keys = [k for k in URL_ATTRIBUTES if k in recorded] or URL_ATTRIBUTES
        span.set_attributes(dict.fromkeys(keys, masked))


def instrument_httpx_client(client: Any, provider: TracerProvider) -> None:
    """Trace one httpx client's calls (service-to-service) with ``traceparent``; BSNs in
    the addresses called are masked in the spans."""
    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor, RequestInfo

    async def masked_async(span: trace.Span, request: RequestInfo) -> None:
        mask_url_attributes(span, request.url)

    def masked(span: trace.Span, request: RequestInfo) -> None:
        mask_url_attributes(span, request.url)

    hook = masked_async if isinstance(client, httpx.AsyncClient) else masked
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider, request_hook=hook)


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
        sent = StatusSend(send, status=500)
        try:
            await self.app(scope, receive, sent)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            status = sent.status or 500
            self.metrics.observe(method, template, status, time.perf_counter() - started)


def metrics_endpoint(metrics: Metrics) -> Any:
    async def endpoint(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return endpoint
