"""``create_service_app``: the one way a Samen service's FastAPI app is assembled."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace import SpanProcessor
from sqlalchemy import Table
from starlette.routing import Route

from .auth import TokenVerifier
from .db import Database, is_sqlite
from .errors import install_problem_handlers
from .health import Dependencies, ReadyCheck, health_router, http_check
from .idempotency import IdempotencyStore
from .logs import configure_logging
from .middleware import (
    BodyLimitMiddleware,
    HeadMiddleware,
    MediaTypeMiddleware,
    RequestContextMiddleware,
)
from .migrations import schema_check, upgrade
from .openapi import adr_document, install_docs
from .revocations import RevocationFeedCollector, revocation_details
from .settings import ServiceSettings
from .telemetry import (
    Metrics,
    MetricsMiddleware,
    ServerSpanMiddleware,
    fastapi_telemetry_off,
    instrument_database,
    metrics_endpoint,
    setup_tracing,
)

logger = logging.getLogger("servicekit.app")

JSON_TYPES = ("application/json", "application/merge-patch+json", "application/*+json")
Hook = Callable[[FastAPI], Awaitable[None]]
# Set by ``serve`` (servicekit.cli): freeze the start-up heap for the garbage collector and
# collect young objects less often.
FREEZE_AFTER_START_UP = "SERVICEKIT_GC_FREEZE"
# Allocations between young garbage collections in a served process (Python's default: 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


def create_service_app(
    *,
    service: str,
    title: str,
    version: str,
    description: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter] = (),
    migrations_package: str | None = None,
    tags: list[dict[str, Any]] | None = None,
    media_types: tuple[str, ...] = JSON_TYPES,
    ready_checks: dict[str, ReadyCheck] | None = None,
    dependency_checks: dict[str, ReadyCheck] | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    database: Database | None = None,
    token_verifier: TokenVerifier | None = None,
    span_processors: list[SpanProcessor] | None = None,
    idempotency_keys: Table | None = None,
) -> FastAPI:
    """Assemble a service: routers under /v1, problem+json, ADR OpenAPI, health,
    metrics, tracing, request ids, body and media-type limits.

    ``idempotency_keys``: the service's table of Idempotency-Keys
    (:func:`servicekit.idempotency.idempotency_table`), for
    :func:`~servicekit.idempotency.idempotent`.

    ``ready_checks`` join the database in readiness (only what this process needs to serve);
    ``dependency_checks`` (other parts) only inform ``/health/details`` and the metrics."""
    configure_logging(service, settings.log_level, settings.log_json)
    if database is None:
        url = settings.database_url_of(service)
        database = Database(url, **({} if is_sqlite(url) else settings.pool_options()))
    dependency_checks = dict(dependency_checks or {})
    if token_verifier is None:
        # Tokens are checked against identity's published keys.
        dependency_checks.setdefault("identity-jwks", http_check(settings.auth_jwks_url))
        token_verifier = TokenVerifier.from_settings(settings)
    feed = token_verifier.revocations
    dependencies = Dependencies(dependency_checks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrations_package and settings.environment == "development":
            await asyncio.to_thread(upgrade, migrations_package, database.url)
        for hook in on_startup:
            await hook(app)
        if feed is not None:
            await feed.start()
        prober = asyncio.create_task(dependencies.run_forever()) if dependencies.checks else None
        if os.environ.get(FREEZE_AFTER_START_UP) == "1":
            # Everything built so far (imports, the app) lives until exit: move
            # it to the permanent generation so that full collections under load no
            # longer walk it (each walk paused every request in flight).
            gc.collect()
            gc.freeze()
            # A request makes hundreds of container objects, nearly all freed by reference
            # counting within the request: at Python's default of 700 a young collection ran
            # every request or two and walked the objects of every request in flight.
            # Cyclic garbage waits for more allocations before it is collected.
            gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            if prober is not None:
                prober.cancel()
            if feed is not None:
                await feed.aclose()
            for hook in on_shutdown:
                await hook(app)
            await database.dispose()

    provider = setup_tracing(
        service,
        version,
        settings.otel_exporter_otlp_endpoint,
        span_processors,
        disabled=settings.otel_sdk_disabled,
    )
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        openapi_tags=tags,
        telemetry=fastapi_telemetry_off(),
    )
    app.state.settings = settings
    app.state.database = database
    app.state.token_verifier = token_verifier
    app.state.service = service
    if idempotency_keys is not None:
        app.state.idempotency = IdempotencyStore(idempotency_keys, database.sessionmaker)

    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)
    install_docs(app, title)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = adr_document(
                app,
                service=service,
                version=version,
                description=description,
                public_url=settings.public_url,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    checks: dict[str, ReadyCheck] = {"database": database.ping}
    if migrations_package:
        checks["schema"] = schema_check(database, migrations_package)
    checks.update(ready_checks or {})
    health = health_router(
        checks,
        version,
        dependencies=dependencies,
        details=lambda: {"revocation-feed": revocation_details(token_verifier)},
    )
    app.include_router(health)
    # The routes by path, for the full ``Allow`` list of a 405 (errors.allowed_methods).
    app.state.method_routes = [
        route
        for route in [*(r for router in (*routers, health) for r in router.routes), *app.routes]
        if isinstance(route, Route)
    ]
    metrics = Metrics(service)
    app.state.metrics = metrics
    if feed is not None:
        metrics.registry.register(RevocationFeedCollector(feed))
    metrics.registry.register(dependencies.collector())
    app.add_route("/metrics", metrics_endpoint(metrics), include_in_schema=False)

    # Added innermost first: the last added middleware runs first.
    app.add_middleware(HeadMiddleware)
    app.add_middleware(MediaTypeMiddleware, allowed=media_types)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware, api_version=version)
    app.add_middleware(ServerSpanMiddleware, provider=provider)
    app.state.tracer_provider = provider
    instrument_database(provider, database.engine)
    return app
