"""Gateway application factory (``uvicorn --factory gateway.main:create_app``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from opentelemetry.sdk.trace import SpanProcessor

from servicekit.auth import TokenVerifier
from servicekit.logs import configure_logging
from servicekit.revocations import RevocationFeedCollector
from servicekit.telemetry import setup_tracing

from . import API_VERSION
from .app import Gateway
from .config import Settings, get_settings
from .health import Check
from .metrics import GatewayMetrics
from .ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from .routes import Route, default_routes

# Verified tokens kept (least recently used first to go): one per active client and user.
TOKEN_CACHE_SIZE = 10_000


def create_app(
    settings: Settings | None = None,
    *,
    token_verifier: TokenVerifier | None = None,
    span_processors: list[SpanProcessor] | None = None,
    routes: list[Route] | None = None,
) -> Gateway:
    settings = settings or get_settings()
    settings.check_revocation_client()
    configure_logging("gateway", settings.log_level, settings.log_json)
    # No access log line per request: `serve` asks uvicorn for none, but the shared
    # logging set-up makes uvicorn.access propagate to the root handler again, and uvicorn
    # then logs (and BSN-masks) every request, the gateway's largest per-request cost at
    # INFO. Requests are counted in /metrics and traced instead.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    if token_verifier is None:
        token_verifier = TokenVerifier.from_settings(
            settings, cache_size=TOKEN_CACHE_SIZE, cache_seconds=settings.token_cache_seconds
        )
    limiter: RateLimiter | None = None
    dependencies: dict[str, Check] = {}
    if settings.rate_limit_enabled:
        if settings.redis_url:
            redis_limiter = RedisRateLimiter(
                settings.redis_url, timeout=settings.rate_limit_redis_timeout
            )
            dependencies["rate-limit-store"] = redis_limiter.ping
            limiter = redis_limiter
        else:
            limiter = MemoryRateLimiter()
    provider = setup_tracing(
        "gateway",
        API_VERSION,
        settings.otel_exporter_otlp_endpoint,
        span_processors,
        disabled=settings.otel_sdk_disabled,
    )

    async def flush_traces() -> None:
        provider.shutdown()

    metrics = GatewayMetrics()
    starting: list[Callable[[], Awaitable[None]]] = []
    stopping: list[Callable[[], Awaitable[None]]] = []
    feed = token_verifier.revocations
    if feed is not None:
        # Revoked tokens are refused within seconds (servicekit.revocations).
        starting.append(feed.start)
        stopping.append(feed.aclose)
        metrics.registry.register(RevocationFeedCollector(feed))
    return Gateway(
        settings,
        verifier=token_verifier,
        limiter=limiter,
        tracer=provider.get_tracer("gateway", API_VERSION),
        metrics=metrics,
        routes=routes if routes is not None else default_routes(),
        dependencies=dependencies,
        on_startup=starting,
        on_shutdown=[*stopping, flush_traces],
    )
