"""Samen Registry API: application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from servicekit.app import create_service_app
from servicekit.events import events_router

from . import API_VERSION
from .auth import READ, auth
from .config import Settings, get_settings
from .db import event_outbox, load_models
from .facilities.router import router as facilities_router
from .offerings.router import router as offerings_router
from .organisations.router import router as organisations_router
from .search.router import router as search_router
from .usages.router import router as usages_router

SERVICE = "registry"
DESCRIPTION = (
    "Catalogue of the collective facilities of Dutch municipalities: organisations, "
    "facilities, offerings, usages and contracts, the contract-expiry radar and a "
    "CloudEvents change feed."
)
TAGS = [
    {"name": "organisations", "description": "Municipalities, suppliers, cooperations, operator"},
    {"name": "facilities", "description": "Collective facilities and their lifecycle"},
    {"name": "offerings", "description": "Supplier offerings and their versions"},
    {"name": "usages", "description": "Which municipality uses what, under which contract"},
    {"name": "radar", "description": "Contracts ending soon: who could join a facility"},
    {"name": "search", "description": "Full-text search with facets"},
    {"name": "events", "description": "Change feed (CloudEvents 1.0)"},
]


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    load_models()
    return create_service_app(
        service=SERVICE,
        title="Samen Registry API",
        version=API_VERSION,
        description=DESCRIPTION,
        settings=settings,
        routers=[
            organisations_router,
            facilities_router,
            offerings_router,
            usages_router,
            search_router,
            events_router(event_outbox, auth, READ),
        ],
        migrations_package="registry.migrations",
        tags=TAGS,
        **overrides,
    )
