"""The portal's application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from servicekit.db import Database, is_sqlite
from servicekit.health import Dependencies, health_router, http_check
from servicekit.logs import configure_logging
from servicekit.middleware import HeadMiddleware
from servicekit.migrations import schema_check, upgrade
from servicekit.telemetry import (
    Metrics,
    MetricsMiddleware,
    ServerSpanMiddleware,
    fastapi_telemetry_off,
    instrument_database,
    instrument_httpx_client,
    metrics_endpoint,
    setup_tracing,
)

from . import VERSION
from .api import Api
from .auth.keys import load_key, load_reader_key
from .auth.oidc import OidcClient
from .auth.router import router as auth_router
from .catalogue.router import router as catalogue_router
from .config import Settings, get_settings
from .db import load_models
from .enrollment.router import router as enrollment_router
from .initiatives.router import router as initiatives_router
from .landscape.router import router as landscape_router
from .leading.router import router as leading_router
from .municipality.router import router as municipality_router
from .mydata.router import router as mydata_router
from .operator.router import router as operator_router
from .sessions.service import SessionStore
from .supplier.router import router as supplier_router
from .vulnerabilities.router import router as vulnerabilities_router
from .web.errors import error_page, install_error_pages
from .web.middleware import SessionMiddleware
from .web.security import SecurityHeaders

SERVICE = "portal"
MIGRATIONS = "portal.migrations"


async def icon(_request: Request) -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(SERVICE, settings.log_level, settings.log_json)
    load_models()
    url = settings.database_url_of(SERVICE)
    database: Database = overrides.pop("database", None) or Database(
        url, **({} if is_sqlite(url) else settings.pool_options(pool_size=5, max_overflow=5))
    )
    http: httpx.AsyncClient = overrides.pop("http", None) or httpx.AsyncClient(
        timeout=settings.api_timeout_seconds,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    key = overrides.pop("key", None) or load_key(settings)
    reader_key = overrides.pop("reader_key", None) or (
        load_reader_key(settings) if settings.reader_private_key_jwk else key
    )
    oidc = OidcClient(settings, key, http, reader_key)
    store = SessionStore(
        database, settings.session_idle_minutes * 60, settings.session_max_hours * 3600
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.environment == "development":
            await asyncio.to_thread(upgrade, MIGRATIONS, database.url)
        try:
            yield
        finally:
            await http.aclose()
            await database.dispose()

    provider = setup_tracing(
        SERVICE,
        VERSION,
        settings.otel_exporter_otlp_endpoint,
        disabled=settings.otel_sdk_disabled,
    )
    app = FastAPI(
        title="Samen portal",
        version=VERSION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        telemetry=fastapi_telemetry_off(),
    )
    app.state.settings = settings
    app.state.database = database
    app.state.oidc = oidc
    app.state.api = Api(settings, oidc, http)
    app.state.sessions = store

    static = resources.files("portal").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    # Browsers ask /favicon.ico where a page names no icon (a JSON document, an image).
    app.add_route("/favicon.ico", icon, include_in_schema=False)
    # Ready means this process can serve (its own database); the gateway it calls is a
    # dependency, reported by /health/details only.
    gateway = http_check(f"{settings.gateway_url.rstrip('/')}/health/live")
    app.include_router(
        health_router(
            {
                "database": database.ping,
                "schema": schema_check(database, MIGRATIONS),
            },
            VERSION,
            dependencies=Dependencies({"gateway": gateway}),
        )
    )
    metrics = Metrics(SERVICE)
    app.add_route("/metrics", metrics_endpoint(metrics), include_in_schema=False)
    for router in (
        auth_router,
        catalogue_router,
        supplier_router,
        municipality_router,
        vulnerabilities_router,
        landscape_router,
        leading_router,
        operator_router,
        mydata_router,
        enrollment_router,
        initiatives_router,
    ):
        app.include_router(router)
    install_error_pages(app)

    async def invalid_request(request: Request, _exc: Exception) -> Response:
        # A malformed id or parameter in a URL: the page does not exist.
        return error_page(request, 404)

    app.add_exception_handler(RequestValidationError, invalid_request)

    # Added innermost first: the last added middleware runs first.
    app.add_middleware(HeadMiddleware)
    app.add_middleware(
        SessionMiddleware,
        store=store,
        cookie=settings.session_cookie,
        secure=settings.secure_cookies(),
        max_age=settings.session_max_hours * 3600,
    )
    app.add_middleware(SecurityHeaders, https=settings.public_url.startswith("https://"))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(ServerSpanMiddleware, provider=provider)
    instrument_database(provider, database.engine)
    instrument_httpx_client(http, provider)
    return app
