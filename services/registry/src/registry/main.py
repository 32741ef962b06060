"""Samen Registry API: application factory."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
from fastapi import FastAPI

from servicekit.app import JSON_TYPES, create_service_app
from servicekit.csvfiles import CSV
from servicekit.egress import PublicOnlyTransport
from servicekit.events import events_router

from . import API_VERSION
from .auth import READ, auth
from .changes.service import PRIVATE_EVENT_PREFIX
from .config import Settings, get_settings
from .contracts import feed_view
from .costs.router import router as costs_router
from .db import event_outbox, idempotency_keys, load_models
from .exports.router import router as exports_router
from .facilities.router import router as facilities_router
from .initiatives.router import router as initiatives_router
from .integrations.router import router as integrations_router
from .mergers.router import router as mergers_router
from .notices import service as notices
from .notices.router import router as notices_router
from .offerings.router import router as offerings_router
from .organisations.router import router as organisations_router
from .pilots.router import router as pilots_router
from .readcache import ReadCache, ReadCacheCollector
from .search.router import router as search_router
from .usages.router import router as usages_router
from .vulnerabilities.router import router as vulnerabilities_router
from .webhooks.backlog import WebhookBacklog, WebhookBacklogCollector
from .webhooks.dispatcher import WebhookDispatcher
from .webhooks.router import router as webhooks_router
from .webhooks.secretbox import secret_box

SERVICE = "registry"
DESCRIPTION = (
    "Catalogue of the collective facilities of Dutch municipalities: organisations, "
    "facilities, offerings, usages and contracts, the contract-expiry radar, full-text "
    "search and a CloudEvents change feed with signed webhooks."
)
TAGS = [
    {"name": "organisations", "description": "Municipalities, suppliers, cooperations, operator"},
    {"name": "facilities", "description": "Collective facilities and their lifecycle"},
    {"name": "offerings", "description": "Supplier offerings and their versions"},
    {"name": "usages", "description": "Which municipality uses what, under which contract"},
    {"name": "radar", "description": "Contracts ending soon: who could join a facility"},
    {"name": "search", "description": "Full-text search with facets"},
    {"name": "events", "description": "Change feed (CloudEvents 1.0)"},
    {"name": "subscriptions", "description": "Webhooks on the change feed (signed, retried)"},
    {"name": "initiatives", "description": "Proposals, support pledges, pilots, impact analyses"},
    {"name": "mergers", "description": "Municipal mergers (herindelingen)"},
    {"name": "exports", "description": "CSV downloads and the landscape in ArchiMate"},
    {"name": "costs", "description": "Annual costs of usages, population figures, per inhabitant"},
    {"name": "integrations", "description": "Integrations between offerings; landscapes"},
    {
        "name": "vulnerabilities",
        "description": "Vulnerabilities (CVE) in offering versions and who is exposed",
    },
]


# Seconds between two measurements of the webhook backlog (for /metrics).
BACKLOG_INTERVAL = 30.0


def _background_hooks(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> tuple[Any, Any]:
    """Start/stop the webhook dispatcher and the notice-deadline scan with the app (not in
    tests: they drive them)."""

    async def start(app: FastAPI) -> None:
        app.state.background_tasks = []
        if settings.environment == "test":
            return
        stop = asyncio.Event()
        app.state.background_stop = stop
        if settings.notice_scan_seconds > 0:
            app.state.background_tasks.append(
                asyncio.create_task(
                    notices.run(app.state.database, stop, settings.notice_scan_seconds)
                )
            )
        if not settings.webhooks_enabled:
            return
        client = webhook_client(settings, transport)
        dispatcher = WebhookDispatcher(
            app.state.database,
            client,
            max_backoff=settings.webhook_max_backoff_seconds,
            secrets=secret_box(settings),
        )
        app.state.webhook_client = client
        app.state.background_tasks.append(
            asyncio.create_task(dispatcher.run(stop, settings.webhook_poll_seconds))
        )
        app.state.background_tasks.append(
            asyncio.create_task(
                app.state.webhook_backlog.watch(app.state.database, stop, BACKLOG_INTERVAL)
            )
        )

    async def shutdown(app: FastAPI) -> None:
        tasks = getattr(app.state, "background_tasks", [])
        if not tasks:
            return
        app.state.background_stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=10)
        client = getattr(app.state, "webhook_client", None)
        if client is not None:
            await client.aclose()

    return start, shutdown


def webhook_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The HTTP client of webhook deliveries. Subscribers choose the URLs: in production
    deliveries reach public internet addresses only, whatever the names resolve to (other
    environments may deliver to local receivers)."""
    if transport is None and settings.environment == "production":
        transport = PublicOnlyTransport()
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, transport=transport
    )


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    settings.check_production()
    secret_box(settings)  # a malformed key fails here, at start-up
    load_models()
    transport = overrides.pop("webhook_transport", None)
    start, shutdown = _background_hooks(settings, transport)
    app = create_service_app(
        service=SERVICE,
        title="Samen Registry API",
        version=API_VERSION,
        description=DESCRIPTION,
        settings=settings,
        # Routes are matched in this order, about a microsecond per route passed: the
        # most requested reads first.
        routers=[
            offerings_router,
            search_router,
            facilities_router,
            usages_router,
            organisations_router,
            costs_router,
            initiatives_router,
            pilots_router,
            notices_router,
            vulnerabilities_router,
            integrations_router,
            events_router(
                event_outbox, auth, READ, hidden_prefix=PRIVATE_EVENT_PREFIX, shown=feed_view
            ),
            webhooks_router,
            exports_router,
            mergers_router,
        ],
        migrations_package="registry.migrations",
        tags=TAGS,
        idempotency_keys=idempotency_keys,
        # Usages are imported as CSV files.
        media_types=(*JSON_TYPES, CSV),
        on_startup=[start],
        on_shutdown=[shutdown],
        **overrides,
    )
    app.state.read_cache = ReadCache(settings.read_cache_bytes, settings.read_cache_max_age_seconds)
    app.state.metrics.registry.register(ReadCacheCollector(app.state.read_cache))
    app.state.webhook_backlog = WebhookBacklog()
    app.state.metrics.registry.register(WebhookBacklogCollector(app.state.webhook_backlog))
    return app
