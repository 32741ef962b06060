"""Samen Procurement API: application factory."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from servicekit.app import create_service_app
from servicekit.db import Database, is_sqlite
from servicekit.errors import InternalError, ServiceUnavailable, problem_response
from servicekit.events import events_router
from servicekit.health import http_check
from servicekit.telemetry import instrument_httpx_client

from . import API_VERSION
from .config import Settings, get_settings
from .db import event_outbox, idempotency_keys, load_models
from .decisions.router import router as decisions_router
from .deps import SCOPE_READ, auth
from .enrollments.reads import feed_view
from .enrollments.router import router as enrollments_router
from .mergers.router import router as mergers_router
from .registry_client import RegistryClient
from .reports.router import router as reports_router
from .tenders.router import router as tenders_router

SERVICE = "procurement"
logger = logging.getLogger("procurement")
DESCRIPTION = (
    "Joint tenders of municipalities: lots, enrollment with a mandate (volmacht), "
    "demand and OCDS export."
)
TAGS = [
    {"name": "tenders", "description": "Joint tenders, their lots and lifecycle"},
    {"name": "enrollments", "description": "Municipal enrollment with a mandate (volmacht)"},
    {"name": "reports", "description": "Demand aggregation and OCDS export"},
    {"name": "decisions", "description": "Notice deadlines ahead and what could replace them"},
    {"name": "mergers", "description": "Municipal mergers applied to enrollments"},
    {"name": "events", "description": "Change feed (CloudEvents)"},
]


def database_for(url: str, settings: Settings | None = None) -> Database:
    """The service's database. SQLite allows one writer and servicekit begins every
    transaction IMMEDIATE, so one connection is all SQLite can use: requests then queue
    fairly for it in the pool instead of polling SQLite's busy handler (which sleeps up
    to 100 ms between tries, so a burst of enrollments would stall)."""
    if is_sqlite(url):
        return Database(url, pool_size=1, max_overflow=0, pool_timeout=60)
    # Past 10 s waiting for a connection the client is better served by 503 + Retry-After.
    pool_timeout = {"pool_timeout": 10}
    return Database(url, **(settings.pool_options(**pool_timeout) if settings else pool_timeout))


async def _overloaded(request: Request, exc: Exception) -> Response:
    """No free database connection, or SQLite's write lock not obtained in time: the
    request did nothing (its transaction rolled back), so the client may retry."""
    if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
        logger.error("database error: %s", type(exc.orig).__name__)
        return problem_response(
            InternalError("The request could not be completed."), request.url.path
        )
    logger.warning("database overloaded: %s", type(exc).__name__)
    error = ServiceUnavailable("The service is busy; retry shortly.", retry_after=1)
    return problem_response(error, request.url.path)


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    settings.check_revocation_client()
    load_models()
    database: Database = overrides.pop("database", None) or database_for(
        settings.database_url_of(SERVICE), settings
    )
    registry: RegistryClient = overrides.pop("registry", None) or RegistryClient(
        settings.registry_url,
        settings.token_url,
        settings.client_id,
        settings.client_secret,
        scope=settings.registry_scope,
        timeout=settings.registry_timeout_seconds,
        retry_after=settings.registry_retry_after_seconds,
        cache_seconds=settings.registry_cache_seconds,
        usage_cache_seconds=settings.registry_usage_cache_seconds,
        private_key_jwk=settings.client_private_key_jwk,
        # identity accepts its issuer as the assertion audience (its public token
        # endpoint may sit behind the gateway under another URL than token_url).
        assertion_audience=settings.auth_issuer,
    )

    async def close_registry(app: FastAPI) -> None:
        await app.state.registry.aclose()

    app = create_service_app(
        service=SERVICE,
        title="Samen Procurement API",
        version=API_VERSION,
        description=DESCRIPTION,
        settings=settings,
        routers=[
            tenders_router,
            enrollments_router,
            reports_router,
            decisions_router,
            mergers_router,
            events_router(event_outbox, auth, SCOPE_READ, shown=feed_view),
        ],
        migrations_package="procurement.migrations",
        tags=TAGS,
        database=database,
        # Informs /health/details and the metrics; readiness never waits on the registry.
        dependency_checks={"registry": http_check(f"{settings.registry_url}/health/live")},
        idempotency_keys=idempotency_keys,
        on_shutdown=[close_registry, *overrides.pop("on_shutdown", [])],
        **overrides,
    )
    # Registry calls carry traceparent, so a trace spans procurement -> registry.
    instrument_httpx_client(registry.http, app.state.tracer_provider)
    app.state.registry = registry
    app.add_exception_handler(SATimeoutError, _overloaded)
    app.add_exception_handler(OperationalError, _overloaded)
    return app
