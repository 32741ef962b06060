"""The gateway as one pure ASGI application.

No framework routing on the hot path: a request is matched against the route table
(:mod:`gateway.routes`), checked (headers, auth, scopes, rate limit, body size), and
streamed to its upstream over pooled keep-alive connections (:mod:`gateway.client`); the
answer is streamed back
with hop-by-hop headers dropped and upstream paths rewritten to public ones. Everything
the gateway answers itself is problem+json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

import aiohttp
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode, Tracer

from servicekit.auth import Principal, TokenVerifier
from servicekit.errors import (
    PROBLEM_JSON,
    BadGateway,
    BadRequest,
    GatewayTimeout,
    InsufficientScope,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    problem_for_status,
)
from servicekit.logs import request_id_var
from servicekit.spans import SpanRecorder, parent_span_context

from . import API_VERSION
from .breaker import State
from .client import Response, UpstreamConnectError, UpstreamDisconnected, UpstreamTimeout
from .config import Settings
from .docs import DOCS_CSP, DocsPortal
from .metrics import GatewayMetrics
from .ratelimit import Decision, Policy, RateLimiter
from .rewrite import PathRewriter, is_json
from .routes import IDEMPOTENT_METHODS, Auth, BodyLimits, Route, Router, Rule
from .tokens import TokenCache, key_published, token_kid
from .upstream import Upstream

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

logger = logging.getLogger("gateway")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)
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
RESPONSE_DROP = HOP_BY_HOP | {b"server", b"date", b"x-request-id", b"content-length"}
SMALL_BODY = 64 * 1024  # bodies up to this size are read at once (fewer sends, no chunking)
REWRITE_MAX = 8 * 1024 * 1024  # JSON bodies larger than this pass without link rewriting
_random_bits = random.getrandbits  # the global generator is reseeded after fork
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
SECURITY_HEADERS: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# The OpenID Provider answers CORS for its own endpoints (origins registered with its
# clients, preflights included); the gateway's CORS_ORIGINS never apply there.
OP_PATHS = ("/auth/", "/.well-known/")
HSTS = b"max-age=31536000; includeSubDomains"
EXPOSED = (
    b"API-Version, Location, ETag, Link, Retry-After, X-Request-ID, RateLimit-Limit, "
    b"RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, WWW-Authenticate"
)
LOCAL_JSON = b"application/json"
HEALTH_JSON = b"application/health+json"


class _ClientGone(Exception):
    """The client disconnected while we were reading its body."""


class _UpstreamBroken(Exception):
    """The upstream failed after the response had started."""


class _Request:
    """What one request carries through the pipeline (slots: cheap on the hot path)."""

    __slots__ = (
        "client_ip",
        "headers",
        "method",
        "path",
        "request_id",
        "response_headers",
        "route_name",
        "scope",
        "span",
        "started",
        "status",
    )

    def __init__(self, scope: Scope, headers: dict[bytes, bytes], request_id: str) -> None:
        self.scope = scope
        self.headers = headers
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.request_id = request_id
        self.route_name = "unmatched"
        self.status = 500
        self.started = False
        self.span: Any = None  # servicekit.spans.RequestSpan, or an SDK span
        self.response_headers: Headers = []
        client = scope.get("client")
        self.client_ip: str = client[0] if client else "unknown"


class Gateway:
    def __init__(
        self,
        settings: Settings,
        *,
        verifier: TokenVerifier,
        limiter: RateLimiter | None,
        tracer: Tracer,
        metrics: GatewayMetrics,
        routes: list[Route],
        ready_extra: dict[str, Callable[[], Awaitable[None]]] | None = None,
        on_shutdown: list[Callable[[], Awaitable[None]]] | None = None,
        on_startup: list[Callable[[], Awaitable[None]]] | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.limiter = limiter
        self.tracer = tracer
        self.spans = SpanRecorder(tracer)
        self.metrics = metrics
        self.router = Router(routes)
        self.body_limits = BodyLimits(settings.max_body_bytes, settings.body_limits)
        self.upstreams: dict[str, Upstream] = {
            name: Upstream(
                name,
                url,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout_for(name),
                pool_size=settings.pool_size,
                keepalive_seconds=settings.keepalive_seconds,
                breaker_failures=settings.breaker_failures,
                breaker_open_seconds=settings.breaker_open_seconds,
                metrics=metrics,
            )
            for name, url in settings.upstreams().items()
        }
        self.rewriters = {
            route.prefix: PathRewriter(
                self.upstreams[route.upstream].url, route.upstream_prefix, route.prefix
            )
            for route in routes
        }
        from .docs import Service

        self.docs = DocsPortal(
            [
                Service(r.upstream, self.upstreams[r.upstream], r.prefix)
                for r in routes
                if r.prefix.startswith("/api/")
            ],
            settings.docs_cache_seconds,
            settings.docs_client_id,
        )
        self.ready_extra = dict(ready_extra or {})
        self.on_shutdown = list(on_shutdown or [])
        self.on_startup = list(on_startup or [])
        self.anonymous_policy = Policy(
            settings.rate_limit_anonymous_per_second, settings.rate_limit_anonymous_burst
        )
        self.client_policy = Policy(settings.rate_limit_per_second, settings.rate_limit_burst)
        self.cors_any = "*" in settings.cors_origins
        self.cors_origins = {o.encode() for o in settings.cors_origins}
        self._token_cache = TokenCache(settings.token_cache_seconds)
        self._version_header = (b"api-version", API_VERSION.encode())
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._duration_children: dict[str, Any] = {}
        self._upstream_children: dict[tuple[str, int], Any] = {}
        self._upstream_duration_children: dict[str, Any] = {}

    # ------------------------------------------------------------------ ASGI entry
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.handle(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def startup(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.start()
        for hook in self.on_startup:
            await hook()

    async def shutdown(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.close()
        if self.limiter is not None:
            await self.limiter.close()
        for hook in self.on_shutdown:
            await hook()

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ------------------------------------------------------------------ pipeline
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: dict[bytes, bytes] = {}
        header_bytes = 0
        for key, value in scope["headers"]:
            header_bytes += len(key) + len(value)
            if key in headers:
                # Repeated headers fold into one value (RFC 9110 §5.3); cookies use "; ".
                headers[key] += (b"; " if key == b"cookie" else b", ") + value
            else:
                headers[key] = value
        incoming_id = headers.get(b"x-request-id", b"").decode("latin-1")
        # Ids only need to be unique, not secret: no system call for randomness per request.
        request_id = (
            incoming_id if _REQUEST_ID_OK.match(incoming_id) else f"{_random_bits(128):032x}"
        )
        req = _Request(scope, headers, request_id)
        id_token = request_id_var.set(request_id)
        path = req.path
        local = path.startswith(("/health/", "/metrics"))
        try:
            if local:
                await self._local(req, receive, send, header_bytes)
                return
            # Spans are started and ended by hand (no context managers): this is the hot
            # path, and the W3C header is written directly for the same reason.
            # Spans are recorded by servicekit.spans (the SDK's sampler, ids and span
            # processors without its per-span bookkeeping); attributes are set at the end.
            parent = parent_span_context(headers.get(b"traceparent"), headers.get(b"tracestate"))
            span = self.spans.start(req.method, parent, SpanKind.SERVER, {})
            req.span = span
            ctx_token = otel_context.attach(
                trace.set_span_in_context(NonRecordingSpan(span.get_span_context()))
            )
            try:
                await self._dispatch(req, receive, send, header_bytes)
            finally:
                otel_context.detach(ctx_token)
                span.update_name(f"{req.method} {req.route_name}")
                span.set_attributes(
                    {
                        "http.request.method": req.method,
                        "http.route": req.route_name,
                        "http.response.status_code": req.status,
                    }
                )
                if req.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()
        except _ClientGone:
            req.status = 499  # nginx's convention for "client closed the request"
        except _UpstreamBroken:
            # Headers are out: the only honest signal left is to abort the connection.
            logger.warning("upstream broke off a response on %s", req.route_name)
            raise
        except Exception:
            logger.exception("unhandled error on %s %s", req.method, req.route_name)
            if not req.started:
                await self._problem(req, send, problem_for_status(500, "The gateway failed."))
        finally:
            request_id_var.reset(id_token)
            if not local:
                self._count(req.route_name, req.method, req.status, time.perf_counter() - started)

    async def _local(self, req: _Request, receive: Receive, send: Send, header_bytes: int) -> None:
        req.route_name = "local"
        if req.method not in ("GET", "HEAD"):
            await self._problem(req, send, _method_not_allowed(req, ["GET", "HEAD"]))
            return
        if req.path == "/health/live":
            body = json.dumps({"status": "pass", "version": API_VERSION}).encode()
            await self._send(req, send, 200, [(b"content-type", HEALTH_JSON)], body)
        elif req.path == "/health/ready":
            await self._ready(req, send)
        elif req.path == "/metrics":
            body = self.metrics.render()
            ctype = self.metrics.content_type.encode()
            await self._send(req, send, 200, [(b"content-type", ctype)], body)
        else:
            await self._problem(req, send, NotFound(f"No resource at {req.path}"))

    async def _dispatch(
        self, req: _Request, receive: Receive, send: Send, header_bytes: int
    ) -> None:
        if header_bytes > self.settings.max_header_bytes:
            too_big = problem_for_status(431, "The request headers are too large.")
            await self._problem(req, send, too_big)
            return
        path = req.path
        if path == "/docs" or path.startswith("/docs/"):
            req.route_name = "docs"
            await self._docs(req, send)
            return
        found = self.router.route_for(path)
        if found is None:
            await self._problem(req, send, NotFound(f"No resource at {path}"))
            return
        route, rest = found
        req.route_name = route.name
        if "/." in rest and any(seg in (".", "..") for seg in rest.split("/")):
            await self._problem(req, send, BadRequest("Dot segments are not allowed in paths."))
            return
        origin = req.headers.get(b"origin")
        if (
            req.method == "OPTIONS"
            and origin is not None
            and b"access-control-request-method" in req.headers
            and not path.startswith(OP_PATHS)
        ):
            await self._preflight(req, send, origin, route, rest)
            return
        rule = self.router.rule_for(route, req.method, rest)
        if rule is None:
            allowed = self.router.allowed_methods(route, rest)
            await self._problem(req, send, _method_not_allowed(req, allowed))
            return
        try:
            principal = await self._authenticate(req, rule)
        except (Unauthorized, InsufficientScope) as refused:
            error: ProblemError = refused
            self.metrics.auth_failures.labels(route.name, str(error.status)).inc()
            if self.limiter is not None and self.settings.rate_limit_enabled:
                # Failed attempts spend the caller's IP budget: guessing tokens (each one
                # a signature check) is throttled like any anonymous traffic.
                decision = await self._rate_limit(req, None)
                if not decision.allowed:
                    self.metrics.rate_limited.labels(route.name).inc()
                    req.response_headers.extend(decision.headers())
                    error = TooManyRequests(
                        "Too many failed attempts; slow down.", retry_after=decision.retry_after
                    )
            await self._problem(req, send, error)
            return
        if self.limiter is not None and self.settings.rate_limit_enabled:
            decision = await self._rate_limit(req, principal)
            req.response_headers.extend(decision.headers())
            if not decision.allowed:
                self.metrics.rate_limited.labels(route.name).inc()
                await self._problem(
                    req,
                    send,
                    TooManyRequests(
                        "Too many requests; slow down.", retry_after=decision.retry_after
                    ),
                )
                return
        await self._proxy(req, receive, send, route, rest)

    # ------------------------------------------------------------------ security
    async def _authenticate(self, req: _Request, rule: Rule) -> Principal | None:
        """The verified caller, or None for anonymous calls; raises 401/403 problems."""
        if rule.auth is Auth.NONE:
            return None
        raw = req.headers.get(b"authorization")
        if raw is None:
            if rule.auth is Auth.OPTIONAL:
                return None
            # RFC 6750 3.1: no error code when the request had no credentials at all.
            raise Unauthorized(
                "A bearer token is required.",
                headers={"WWW-Authenticate": 'Bearer realm="samen"'},
            )
        scheme, _, credentials = raw.decode("latin-1").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials or " " in credentials:
            raise Unauthorized(
                "The Authorization header must be 'Bearer <token>'.", error="invalid_request"
            )
        principal = await self._verify(credentials)
        if rule.scope is not None and rule.scope not in principal.scopes:
            raise InsufficientScope([rule.scope])
        return principal

    async def _verify(self, token: str) -> Principal:
        """The verified principal of a bearer token, through :class:`TokenCache`."""
        cache = self._token_cache
        entry = cache.get(token)
        if entry is not None:
            # Still published? ``jwks.get`` is a clock check and a set lookup unless the
            # keys are due for a refresh (or the kid is unknown): then it refreshes, and a
            # new key set means every cached verification is redone against it.
            keys = await self.verifier.jwks.get(entry.kid)
            # A token identity revoked since is verified anew, which refuses it.
            if keys is entry.keys and not self.verifier.is_revoked(entry.principal.token_id):
                return entry.principal
            cache.discard(token)
        claims = await self.verifier.verify(token)
        principal = Principal.from_claims(claims)
        kid = token_kid(token)
        if kid is not None:  # tokens without a kid are verified every time
            keys = await self.verifier.jwks.get(kid)
            if key_published(keys, kid):
                cache.put(token, claims, principal, kid, keys)
        return principal

    async def _rate_limit(self, req: _Request, principal: Principal | None) -> Decision:
        assert self.limiter is not None
        if principal is not None and principal.client_id:
            return await self.limiter.hit("azp:" + principal.client_id, self.client_policy)
        return await self.limiter.hit("ip:" + self._client_ip(req), self.anonymous_policy)

    def _client_ip(self, req: _Request) -> str:
        if self.settings.trust_forwarded_for:
            forwarded = req.headers.get(b"x-forwarded-for")
            if forwarded:
                return forwarded.split(b",")[0].strip().decode("latin-1")
        return req.client_ip

    # ------------------------------------------------------------------ proxying
    async def _proxy(
        self, req: _Request, receive: Receive, send: Send, route: Route, rest: str
    ) -> None:
        upstream = self.upstreams[route.upstream]
        breaker = upstream.breaker
        if not breaker.allow():
            self.metrics.upstream_errors.labels(upstream.name, "circuit_open").inc()
            error = ServiceUnavailable(
                f"The {upstream.name} service is temporarily unavailable.",
                retry_after=breaker.retry_after(),
            )
            await self._problem(req, send, error)
            return
        try:
            await self._forward(req, receive, send, route, rest, upstream)
        finally:
            # Still in flight means the call neither succeeded nor failed (e.g. 413).
            breaker.release()

    def _upstream_headers(self, req: _Request, route: Route) -> Headers:
        """The request's headers as the upstream gets them (bytes, ready to write)."""
        scope = req.scope
        out: Headers = []
        connection = req.headers.get(b"connection", b"").lower()
        named = {t.strip() for t in connection.split(b",")} if connection else set()
        for key, value in scope["headers"]:
            if key in REQUEST_DROP or key in named:
                continue
            if route.rewrite and key == b"accept-encoding":
                # Bodies must stay readable so their links can be rewritten.
                continue
            out.append((key, value))
        forwarded = req.headers.get(b"x-forwarded-for")
        ip = req.client_ip.encode()
        out.append((b"x-forwarded-for", forwarded + b", " + ip if forwarded else ip))
        out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        host = req.headers.get(b"host")
        if host:
            out.append((b"x-forwarded-host", host))
        out.append((b"x-forwarded-prefix", route.prefix.encode()))
        out.append((b"x-request-id", req.request_id.encode()))
        return out

    def _upstream_target(self, req: _Request, route: Route, rest: str) -> bytes:
        """Path and query as sent upstream, with the client's own percent-encoding."""
        raw_path: bytes = req.scope.get("raw_path") or req.path.encode()
        prefix = route.prefix.encode()
        if raw_path.startswith(prefix):
            raw_rest = raw_path[len(prefix) :]
        else:
            raw_rest = quote(rest, safe="/:@!$&'()*+,;=-._~").encode()
        target = route.upstream_prefix.encode() + raw_rest
        query: bytes = req.scope.get("query_string", b"")
        return target + b"?" + query if query else target

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        """The whole request body, or None when it is larger than ``limit``."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _forward(
        self,
        req: _Request,
        receive: Receive,
        send: Send,
        route: Route,
        rest: str,
        upstream: Upstream,
    ) -> None:
        method = req.method
        limit = self.body_limits.for_path(req.path)
        declared = req.headers.get(b"content-length")
        chunked = b"chunked" in req.headers.get(b"transfer-encoding", b"").lower()
        headers = self._upstream_headers(req, route)
        body: bytes | AsyncIterator[bytes] | None = None
        if declared is not None:
            if not declared.isdigit():
                await self._problem(req, send, BadRequest("Invalid Content-Length header."))
                return
            length = int(declared)
            if length > limit:
                await self._problem(req, send, _too_large(limit))
                return
            if length <= SMALL_BODY:
                body = await self._read_body(receive, limit)
                if body is None:
                    await self._problem(req, send, _too_large(limit))
                    return
                if body or method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
                    headers.append((b"content-length", str(len(body)).encode()))
                else:
                    body = None
            else:
                headers.append((b"content-length", str(length).encode()))
                body = _stream_body(receive)
        elif chunked:
            # Unknown length: buffer up to the limit so an oversized upload is refused
            # with 413 before anything reaches the upstream.
            body = await self._read_body(receive, limit)
            if body is None:
                await self._problem(req, send, _too_large(limit))
                return
            headers.append((b"content-length", str(len(body)).encode()))

        target = self._upstream_target(req, route, rest)
        idempotent = method in IDEMPOTENT_METHODS
        retries = self.settings.connect_retries if idempotent else 0
        retries = retries if not isinstance(body, AsyncIterator) else 0
        metrics = self.metrics
        name = upstream.name
        span = self.spans.start(
            method,
            req.span.get_span_context() if req.span is not None else None,
            SpanKind.CLIENT,
            {
                "http.request.method": method,
                "server.address": upstream.host,
                "server.port": upstream.port,
                "peer.service": name,
            },
        )
        try:
            sc = span.get_span_context()
            if sc.is_valid:
                headers.append(
                    (
                        b"traceparent",
                        f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}".encode(),
                    )
                )
                if sc.trace_state:
                    headers.append((b"tracestate", sc.trace_state.to_header().encode()))
            attempt = 0
            t0 = time.perf_counter()
            while True:
                try:
                    response = await upstream.pool.request(
                        method, target, headers, body, idempotent=idempotent
                    )
                    break
                except UpstreamConnectError:
                    if attempt < retries:
                        attempt += 1
                        metrics.upstream_retries.labels(name).inc()
                        await asyncio.sleep(0.02 * attempt)
                        continue
                    await self._upstream_failed(req, send, upstream, span, "connect")
                    return
                except UpstreamTimeout:
                    await self._upstream_failed(req, send, upstream, span, "timeout")
                    return
                except UpstreamDisconnected:
                    await self._upstream_failed(req, send, upstream, span, "disconnect")
                    return
            status = response.status
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            self._count_upstream(name, status, time.perf_counter() - t0)
            upstream.breaker.success()
            try:
                await self._respond(req, send, route, response)
            except (UpstreamTimeout, UpstreamDisconnected) as exc:
                if req.started:
                    upstream.breaker.failure()
                    raise _UpstreamBroken() from exc
                kind = "timeout" if isinstance(exc, UpstreamTimeout) else "disconnect"
                await self._upstream_failed(req, send, upstream, span, kind)
            finally:
                response.release()
        finally:
            span.end()

    def _count(self, route: str, method: str, status: int, seconds: float) -> None:
        """Metrics per route; label children are cached (labels() is not free)."""
        key = (route, method, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self.metrics.requests.labels(route, method, str(status))
            self._request_children[key] = counter
        counter.inc()
        histogram = self._duration_children.get(route)
        if histogram is None:
            histogram = self.metrics.duration.labels(route)
            self._duration_children[route] = histogram
        histogram.observe(seconds)

    def _count_upstream(self, name: str, status: int, seconds: float) -> None:
        key = (name, status)
        counter = self._upstream_children.get(key)
        if counter is None:
            counter = self.metrics.upstream_requests.labels(name, str(status))
            self._upstream_children[key] = counter
        counter.inc()
        histogram = self._upstream_duration_children.get(name)
        if histogram is None:
            histogram = self.metrics.upstream_duration.labels(name)
            self._upstream_duration_children[name] = histogram
        histogram.observe(seconds)

    async def _upstream_failed(
        self, req: _Request, send: Send, upstream: Upstream, span: Any, kind: str
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
        await self._problem(req, send, error)

    async def _respond(self, req: _Request, send: Send, route: Route, response: Response) -> None:
        rewriter = self.rewriters[route.prefix] if route.rewrite else None
        out: Headers = []
        content_type = b""
        length: int | None = None
        encoded = False
        named: set[bytes] = set()  # headers the upstream's Connection header names
        raw_headers = response.raw_headers
        for key, value in raw_headers:
            if len(key) == 10 and key.lower() == b"connection":
                named |= {t.strip() for t in value.lower().split(b",")}
        for key, value in raw_headers:
            lower = key.lower()
            if lower in RESPONSE_DROP or (named and lower in named):
                if lower == b"content-length" and value.isdigit():
                    length = int(value)
                continue
            if lower == b"content-type":
                content_type = value
            elif lower == b"content-encoding":
                encoded = True
            elif rewriter is not None and lower in (b"location", b"content-location"):
                value = rewriter.path(value.decode("latin-1")).encode("latin-1")
            elif rewriter is not None and lower == b"link":
                value = rewriter.link_header(value.decode("latin-1")).encode("latin-1")
            out.append((lower, value))
        head = req.method == "HEAD"
        if response.status >= 500 and not content_type.startswith(PROBLEM_JSON.encode()):
            # A service answering 5xx without problem+json failed in a way it did not
            # plan for (a crash page, a proxy error): its body may carry internals.
            logger.warning(
                "upstream %s answered %s without problem+json", route.upstream, response.status
            )
            error = problem_for_status(
                response.status, f"The {route.upstream} service could not complete the request."
            )
            await self._problem(req, send, error)
            return
        if head or response.status in (204, 304):
            if length is not None and head:
                out.append((b"content-length", str(length).encode()))
            await self._start(req, send, response.status, out)
            await send({"type": "http.response.body", "body": b""})
            return
        if (
            rewriter is not None
            and not encoded
            and length is not None
            and length <= REWRITE_MAX
            and is_json(content_type.decode("latin-1"))
        ):
            body = await response.read()
            body = rewriter.json_body(body) or body
            await self._send(req, send, response.status, out, body)
            return
        if length is not None and length <= SMALL_BODY:
            body = await response.read()
            await self._send(req, send, response.status, out, body)
            return
        if length is not None:
            out.append((b"content-length", str(length).encode()))
        await self._start(req, send, response.status, out)
        async for chunk in response.iter_chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    # ------------------------------------------------------------------ responses
    async def _start(self, req: _Request, send: Send, status: int, headers: Headers) -> None:
        """Send the response start with the headers every response carries."""
        req.status = status
        req.started = True
        headers.extend(req.response_headers)
        headers.append((b"x-request-id", req.request_id.encode()))
        present = {k for k, _ in headers}
        for key, value in SECURITY_HEADERS:
            if key not in present:
                headers.append((key, value))
        if req.path.startswith("/api/") and b"content-security-policy" not in present:
            headers.append((b"content-security-policy", API_CSP))
        if req.scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", HSTS))
        origin = req.headers.get(b"origin")
        if (
            origin is not None
            and b"access-control-allow-origin" not in present
            and not req.path.startswith(OP_PATHS)
        ):
            if self._origin_allowed(origin):
                headers.append((b"access-control-allow-origin", origin))
                headers.append((b"access-control-expose-headers", EXPOSED))
                headers.append((b"vary", b"Origin"))
            elif req.path.endswith("/openapi.json"):
                # ADR: OpenAPI documents are readable from any origin.
                headers.append((b"access-control-allow-origin", b"*"))
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _send(
        self, req: _Request, send: Send, status: int, headers: Headers, body: bytes
    ) -> None:
        headers.append((b"content-length", str(len(body)).encode()))
        await self._start(req, send, status, headers)
        await send({"type": "http.response.body", "body": b"" if req.method == "HEAD" else body})

    async def _problem(self, req: _Request, send: Send, error: ProblemError) -> None:
        body = json.dumps(error.to_dict(req.path)).encode()
        headers: Headers = [(b"content-type", PROBLEM_JSON.encode()), self._version_header]
        headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
        await self._send(req, send, error.status, headers, body)

    def _origin_allowed(self, origin: bytes) -> bool:
        return self.cors_any or origin in self.cors_origins

    async def _preflight(
        self, req: _Request, send: Send, origin: bytes, route: Route, rest: str
    ) -> None:
        headers: Headers = [self._version_header]
        if self._origin_allowed(origin):
            allowed = self.router.allowed_methods(route, rest)
            requested = req.headers.get(b"access-control-request-headers", b"")
            headers += [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-methods", ", ".join(allowed).encode()),
                (b"access-control-max-age", str(self.settings.cors_max_age).encode()),
                (b"vary", b"Origin"),
            ]
            if requested:
                headers.append((b"access-control-allow-headers", requested))
        await self._send(req, send, 204, headers, b"")

    # ------------------------------------------------------------------ local pages
    async def _ready(self, req: _Request, send: Send) -> None:
        results: dict[str, dict[str, Any]] = {}

        async def probe(upstream: Upstream) -> None:
            entry: dict[str, Any] = {"breaker": upstream.state.name.lower().replace("_", "-")}
            try:
                async with upstream.session.get(
                    f"{upstream.url}/health/live", timeout=aiohttp.ClientTimeout(total=2.0)
                ) as response:
                    entry["status"] = "pass" if response.status == 200 else "fail"
                    if response.status != 200:
                        entry["output"] = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                entry["status"] = "fail"
                entry["output"] = type(exc).__name__
            results[upstream.name] = entry

        async def extra(name: str, check: Callable[[], Awaitable[None]]) -> None:
            try:
                await asyncio.wait_for(check(), 2.0)
                results[name] = {"status": "pass"}
            except Exception as exc:  # any failure means not ready; say which, not why
                results[name] = {"status": "fail", "output": type(exc).__name__}

        await asyncio.gather(
            *(probe(u) for u in self.upstreams.values()),
            *(extra(n, c) for n, c in self.ready_extra.items()),
        )
        ok = all(r["status"] == "pass" for r in results.values())
        body = json.dumps(
            {"status": "pass" if ok else "fail", "version": API_VERSION, "checks": results}
        ).encode()
        await self._send(req, send, 200 if ok else 503, [(b"content-type", HEALTH_JSON)], body)

    async def _docs(self, req: _Request, send: Send) -> None:
        if req.method not in ("GET", "HEAD"):
            await self._problem(req, send, _method_not_allowed(req, ["GET", "HEAD"]))
            return
        parts = req.path.strip("/").split("/")
        page = [(b"content-security-policy", DOCS_CSP.encode()), (b"x-frame-options", b"DENY")]
        html_type = (b"content-type", b"text/html; charset=utf-8")
        services = self.docs.services
        if parts == ["docs"]:
            body = (await self.docs.index_html()).encode()
            await self._send(req, send, 200, [html_type, *page], body)
            return
        if parts in (["docs", "oauth2-redirect"], ["docs", "oauth2-redirect.html"]):
            body = self.docs.oauth2_redirect_html().encode()
            await self._send(req, send, 200, [html_type, *page], body)
            return
        if len(parts) == 3 and parts[1] == "assets":
            asset = self.docs.asset(parts[2])
            if asset is not None:
                data, media_type = asset
                headers = [
                    (b"content-type", media_type.encode()),
                    (b"cache-control", b"public, max-age=86400"),
                    *page,
                ]
                await self._send(req, send, 200, headers, data)
                return
        elif len(parts) >= 2 and parts[1] in services:
            name = parts[1]
            if len(parts) == 2:
                body = self.docs.swagger_html(name).encode()
                await self._send(req, send, 200, [html_type, *page], body)
                return
            if parts[2:] == ["redoc"]:
                body = self.docs.redoc_html(name).encode()
                await self._send(req, send, 200, [html_type, *page], body)
                return
            if parts[2:] == ["openapi.json"]:
                doc = await self.docs.document(name)
                if doc is None:
                    error = ServiceUnavailable(
                        f"The {name} service's OpenAPI document is unavailable.", retry_after=5
                    )
                    await self._problem(req, send, error)
                    return
                headers = [
                    (b"content-type", LOCAL_JSON),
                    (b"access-control-allow-origin", b"*"),
                ]
                await self._send(req, send, 200, headers, json.dumps(doc).encode())
                return
        await self._problem(req, send, NotFound(f"No resource at {req.path}"))

    def breaker_states(self) -> dict[str, State]:
        return {name: u.state for name, u in self.upstreams.items()}


async def _stream_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds {limit} bytes.")


def _method_not_allowed(req: _Request, allowed: list[str]) -> ProblemError:
    if not allowed:
        return NotFound(f"No resource at {req.path}")
    return MethodNotAllowed(
        f"Method {req.method} is not allowed on {req.path}",
        headers={"Allow": ", ".join(allowed)},
    )
