"""The gateway as one pure ASGI application.

No framework routing on the hot path: a request is matched against the route table
(:mod:`gateway.routes`), admitted (:mod:`gateway.auth`: token, scope, rate limit),
forwarded to its upstream (:mod:`gateway.forward`) and its answer shaped for the client
(:mod:`gateway.respond`). Everything the gateway answers itself is problem+json, apart
from its own pages (:mod:`gateway.health`, :mod:`gateway.docs`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode, Tracer

from servicekit.auth import TokenVerifier
from servicekit.errors import BadRequest, NotFound, ProblemError, problem_for_status
from servicekit.logs import request_id_var
from servicekit.revocations import revocation_details
from servicekit.spans import SpanRecorder, parent_span_context

from .auth import Gatekeeper
from .config import Settings
from .docs import DocsPortal, Service
from .exchange import ClientGone, Exchange, Receive, Scope, Send, UpstreamBroken
from .forward import Forwarder
from .health import LOCAL_PATHS, Check, LocalPages
from .metrics import GatewayMetrics
from .ratelimit import RateLimiter
from .respond import NO_RESOURCE, OP_PATHS, Responder
from .routes import Route, Router
from .upstream import Upstream

logger = logging.getLogger("gateway")
TOO_MANY_HEADERS = problem_for_status(431, "The request headers are too large.")


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
        dependencies: dict[str, Check] | None = None,
        on_startup: list[Callable[[], Awaitable[None]]] | None = None,
        on_shutdown: list[Callable[[], Awaitable[None]]] | None = None,
    ) -> None:
        self.max_header_bytes = settings.max_header_bytes
        self.limiter = limiter
        self.spans = SpanRecorder(tracer)
        self.metrics = metrics
        self.router = Router(routes)
        self.upstreams = {
            name: Upstream.from_settings(name, url, settings, metrics)
            for name, url in settings.upstreams().items()
        }
        self.responder = Responder(settings.cors_origins, settings.cors_max_age)
        self.gate = Gatekeeper(settings, verifier, limiter, metrics)
        self.forwarder = Forwarder(
            settings, self.upstreams, routes, self.responder, metrics, self.spans
        )
        self.local = LocalPages(
            self.responder, metrics, self.upstreams, dict(dependencies or {}), self._states
        )
        api = [r for r in routes if r.prefix.startswith("/api/")]
        self.docs = DocsPortal(
            [Service(r.upstream, self.upstreams[r.upstream], r.prefix) for r in api],
            settings.docs_cache_seconds,
            settings.docs_client_id,
        )
        self.on_startup = list(on_startup or [])
        self.on_shutdown = list(on_shutdown or [])

    def _states(self) -> dict[str, dict[str, Any]]:
        """The revocation feed's state, when this gateway reads one (a stale feed: tokens
        are checked against the last list)."""
        if self.gate.verifier.revocations is None:
            return {}
        return {"revocation-feed": revocation_details(self.gate.verifier)}

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
        self.local.serving = True

    async def shutdown(self) -> None:
        self.local.serving = False
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

    # ------------------------------------------------------------------ one request
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        ex = Exchange(scope)
        id_token = request_id_var.set(ex.request_id)
        local = ex.path.startswith(LOCAL_PATHS)
        try:
            if local:
                await self.local.handle(ex, send)
            else:
                await self._traced(ex, receive, send)
        except ClientGone:
            ex.status = 499  # nginx's convention for "client closed the request"
        except UpstreamBroken:
            # Headers are out: the only honest signal left is to abort the connection.
            logger.warning("upstream broke off a response on %s", ex.route_name)
            raise
        except Exception:
            logger.exception("unhandled error on %s %s", ex.method, ex.route_name)
            if not ex.started:
                error = problem_for_status(500, "The gateway failed.")
                await self.responder.problem(ex, send, error)
        finally:
            request_id_var.reset(id_token)
            if not local:
                self.metrics.answered(
                    ex.route_name, ex.method, ex.status, time.perf_counter() - started
                )

    async def _traced(self, ex: Exchange, receive: Receive, send: Send) -> None:
        """:meth:`_dispatch` in a server span (attributes are known only at the end)."""
        headers = ex.headers
        parent = parent_span_context(headers.get(b"traceparent"), headers.get(b"tracestate"))
        span = ex.span = self.spans.start(ex.method, parent, SpanKind.SERVER, {})
        ctx_token = otel_context.attach(
            trace.set_span_in_context(NonRecordingSpan(span.get_span_context()))
        )
        try:
            await self._dispatch(ex, receive, send)
        finally:
            otel_context.detach(ctx_token)
            if span.is_recording():  # an unsampled caller's trace: nothing to fill in
                span.update_name(f"{ex.method} {ex.route_name}")
                span.set_attributes(
                    {
                        "http.request.method": ex.method,
                        "http.route": ex.route_name,
                        "http.response.status_code": ex.status,
                    }
                )
                if ex.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            span.end()

    async def _dispatch(self, ex: Exchange, receive: Receive, send: Send) -> None:
        respond = self.responder
        if ex.header_bytes > self.max_header_bytes:
            await respond.problem(ex, send, TOO_MANY_HEADERS)
            return
        path = ex.path
        if path == "/docs" or path.startswith("/docs/"):
            await self.docs.handle(ex, send, respond)
            return
        found = self.router.route_for(path)
        if found is None:
            await respond.problem(ex, send, NotFound(NO_RESOURCE))
            return
        route, rest = found
        ex.route_name = route.name
        if "/." in rest and any(seg in (".", "..") for seg in rest.split("/")):
            await respond.problem(ex, send, BadRequest("Dot segments are not allowed in paths."))
            return
        if route.rewrite and rest.endswith("/"):
            # No API path ends in a slash (ADR): say so, rather than ask an anonymous
            # caller of a public collection for a token.
            await respond.problem(ex, send, NotFound("API paths have no trailing slash."))
            return
        origin = ex.headers.get(b"origin")
        if (
            ex.method == "OPTIONS"
            and origin is not None
            and b"access-control-request-method" in ex.headers
            and not path.startswith(OP_PATHS)
        ):
            await respond.preflight(ex, send, origin, self.router.allowed_methods(route, rest))
            return
        rule = self.router.rule_for(route, ex.method, rest)
        if rule is None:
            await respond.not_allowed(ex, send, self.router.allowed_methods(route, rest))
            return
        try:
            await self.gate.admit(ex, rule)
        except ProblemError as refused:
            await respond.problem(ex, send, refused)
            return
        await self.forwarder.forward(ex, receive, send, route, rest)
