"""Gateway application factory."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from servicekit.errors import install_problem_handlers
from servicekit.health import ReadyCheck, health_router
from servicekit.logs import configure_logging
from servicekit.middleware import BodyLimitMiddleware, RequestContextMiddleware
from servicekit.telemetry import Metrics, MetricsMiddleware, metrics_endpoint

from . import API_VERSION
from .config import Settings, get_settings


def upstream_check(client: httpx.AsyncClient, base_url: str) -> ReadyCheck:
    async def check() -> None:
        response = await client.get(f"{base_url.rstrip('/')}/health/live", timeout=2.0)
        response.raise_for_status()

    return check


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    app = FastAPI(
        title="Samen Gateway",
        version=API_VERSION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    client = httpx.AsyncClient()
    app.state.settings = settings
    install_problem_handlers(app)
    checks = {name: upstream_check(client, url) for name, url in settings.upstreams().items()}
    app.include_router(health_router(checks, API_VERSION))
    metrics = Metrics("gateway")
    app.add_route("/metrics", metrics_endpoint(metrics), include_in_schema=False)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware, api_version=API_VERSION)
    return app
