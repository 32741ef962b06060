"""Forwarding: the request as its upstream gets it (headers, target, body within the
size limit), the call (circuit breaker, a retry for idempotent methods that could not
connect, a client span, timeouts), and upstream failures as 502/503/504 problems."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from servicekit.errors import (
    BadGateway,
    BadRequest,
    GatewayTimeout,
    PayloadTooLarge,
    ProblemError,
    ServiceUnavailable,
)
from servicekit.spans import SpanRecorder

from .config import Settings
from .exchange import ClientGone, Exchange, Receive, Send, UpstreamBroken
from .metrics import GatewayMetrics
from .respond import HOP_BY_HOP, SMALL_BODY, Responder
from .rewrite import PathRewriter
from .routes import IDEMPOTENT_METHODS, BodyLimits, Route
from .upstream import Upstream

logger = logging.getLogger("gateway")

# Set by the gateway itself; a client must not be able to inject them.
REQUEST_DROP = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"x-forwarded-prefix",
    b"forwarded",
    b"x-request-id",
    b"traceparent",
    b"tracestate",
}
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
PATH_SAFE = "/:@!$&'()*+,;=-._~"
Body = bytes | AsyncIterator[bytes] | None
UpstreamHeaders = list[tuple[str, str]]


class Forwarder:
    def __init__(
        self,
        settings: Settings,
        upstreams: dict[str, Upstream],
        routes: list[Route],
        responder: Responder,
        metrics: GatewayMetrics,
        spans: SpanRecorder,
    ) -> None:
        self.upstreams = upstreams
        self.responder = responder
        self.metrics = metrics
        self.spans = spans
        self.connect_retries = settings.connect_retries
        self.body_limits = BodyLimits(settings.max_body_bytes, settings.body_limits)
        self.rewriters = {
            route.prefix: PathRewriter(
                upstreams[route.upstream].url, route.upstream_prefix, route.prefix
            )
            for route in routes
            if route.rewrite
        }

    async def forward(
        self, ex: Exchange, receive: Receive, send: Send, route: Route, rest: str
    ) -> None:
        upstream = self.upstreams[route.upstream]
        breaker = upstream.breaker
        if not breaker.allow():
            self.metrics.upstream_errors.labels(upstream.name, "circuit_open").inc()
            error = ServiceUnavailable(
                f"The {upstream.name} service is temporarily unavailable.",
                retry_after=breaker.retry_after(),
            )
            await self.responder.problem(ex, send, error)
            return
        try:
            headers = upstream_headers(ex, route)
            try:
                body = await self._body(ex, receive, headers)
            except ProblemError as refused:
                await self.responder.problem(ex, send, refused)
                return
            await self._call(
                ex, send, route, upstream, headers, body, upstream_target(ex, route, rest)
            )
        finally:
            # Still in flight means the call neither succeeded nor failed (e.g. 413).
            breaker.release()

    async def _body(self, ex: Exchange, receive: Receive, headers: UpstreamHeaders) -> Body:
        """The body to send (read whole when small or chunked, else streamed); its
        Content-Length is added to ``headers``. Raises 400 or 413 problems."""
        limit = self.body_limits.for_path(ex.path)
        declared = ex.headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest("Invalid Content-Length header.")
            length = int(declared)
            if length > limit:
                raise too_large(limit)
            if length > SMALL_BODY:
                headers.append(("content-length", str(length)))
                return stream_body(receive)
            body = await read_body(receive, limit)
            if not body and ex.method in BODYLESS_METHODS:
                return None
        elif b"chunked" in ex.headers.get(b"transfer-encoding", b"").lower():
            # Unknown length: buffer up to the limit so an oversized upload is refused
            # with 413 before anything reaches the upstream.
            body = await read_body(receive, limit)
        else:
            return None
        headers.append(("content-length", str(len(body))))
        return body

    async def _call(
        self,
        ex: Exchange,
        send: Send,
        route: Route,
        upstream: Upstream,
        headers: UpstreamHeaders,
        body: Body,
        target: str,
    ) -> None:
        method = ex.method
        name = upstream.name
        retries = self.connect_retries
        if method not in IDEMPOTENT_METHODS or isinstance(body, AsyncIterator):
            retries = 0
        span = self.spans.start(
            method,
            ex.span.get_span_context() if ex.span is not None else None,
            SpanKind.CLIENT,
            {"http.request.method": method, **upstream.span_attributes},
        )
        try:
            add_trace_context(headers, span)
            started = time.perf_counter()
            attempt = 0
            while True:
                try:
                    response = await upstream.request(method, target, headers, body)
                    break
                except (aiohttp.ClientError, TimeoutError) as exc:
                    kind = failure_kind(exc)
                    if kind == "connect" and attempt < retries:
                        attempt += 1
                        self.metrics.upstream_retries.labels(name).inc()
                        await asyncio.sleep(0.02 * attempt)
                        continue
                    await self._failed(ex, send, upstream, span, kind)
                    return
            status = response.status
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            self.metrics.upstream_call(name, status, time.perf_counter() - started)
            upstream.breaker.success()
            try:
                await self.responder.relay(
                    ex, send, name, self.rewriters.get(route.prefix), response
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                if ex.started:
                    upstream.breaker.failure()
                    raise UpstreamBroken() from exc
                await self._failed(ex, send, upstream, span, failure_kind(exc))
            finally:
                response.release()
        finally:
            span.end()

    async def _failed(
        self, ex: Exchange, send: Send, upstream: Upstream, span: Span, kind: str
    ) -> None:
        upstream.breaker.failure()
        self.metrics.upstream_errors.labels(upstream.name, kind).inc()
        span.set_status(Status(StatusCode.ERROR, kind))
        span.set_attribute("error.type", kind)
        logger.warning("upstream %s failed: %s", upstream.name, kind)
        error: ProblemError
        if kind == "timeout":
            error = GatewayTimeout(f"The {upstream.name} service did not answer in time.")
        else:
            error = BadGateway(f"The {upstream.name} service could not be reached.")
        await self.responder.problem(ex, send, error)


def failure_kind(exc: BaseException) -> str:
    """How an upstream call failed: connect, timeout or disconnect. A client that went
    away while its body was being sent is not the upstream's failure."""
    if isinstance(exc.__cause__, ClientGone):
        raise exc.__cause__
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect"
    return "disconnect"


def upstream_headers(ex: Exchange, route: Route) -> UpstreamHeaders:
    """The request's headers as the upstream gets them."""
    scope = ex.scope
    out: UpstreamHeaders = []
    connection = ex.headers.get(b"connection", b"").lower()
    named = {t.strip() for t in connection.split(b",")} if connection else set()
    for key, value in scope["headers"]:
        if key in REQUEST_DROP or key in named:
            continue
        if route.rewrite and key == b"accept-encoding":
            continue  # bodies must stay readable so their links can be rewritten
        out.append((key.decode("latin-1"), value.decode("latin-1")))
    forwarded = ex.headers.get(b"x-forwarded-for")
    ip = ex.client_ip
    out.append(("x-forwarded-for", f"{forwarded.decode('latin-1')}, {ip}" if forwarded else ip))
    out.append(("x-forwarded-proto", scope.get("scheme", "http")))
    host = ex.headers.get(b"host")
    if host:
        out.append(("x-forwarded-host", host.decode("latin-1")))
    out.append(("x-forwarded-prefix", route.prefix))
    out.append(("x-request-id", ex.request_id))
    return out


def add_trace_context(headers: UpstreamHeaders, span: Span) -> None:
    """W3C ``traceparent``/``tracestate`` of the client span."""
    sc = span.get_span_context()
    if sc.is_valid:
        headers.append(
            ("traceparent", f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}")
        )
        if sc.trace_state:
            headers.append(("tracestate", sc.trace_state.to_header()))


def upstream_target(ex: Exchange, route: Route, rest: str) -> str:
    """Path and query as sent upstream, with the client's own percent-encoding."""
    raw_path: bytes = ex.scope.get("raw_path") or ex.path.encode()
    prefix = route.prefix.encode()
    if raw_path.startswith(prefix):
        raw_rest = raw_path[len(prefix) :].decode("latin-1")
    else:
        raw_rest = quote(rest, safe=PATH_SAFE)
    target = route.upstream_prefix + raw_rest
    query: bytes = ex.scope.get("query_string", b"")
    return f"{target}?{query.decode('latin-1')}" if query else target


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 when it is larger than ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream_body(receive):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def stream_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds {limit} bytes.")
