"""Samen Registry API: application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from servicekit.app import create_service_app

from . import API_VERSION
from .config import Settings, get_settings

SERVICE = "registry"
DESCRIPTION = "Catalogue of the collective facilities of Dutch municipalities: organisations, facilities, offerings, usages and contracts."


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        service=SERVICE,
        title="Samen Registry API",
        version=API_VERSION,
        description=DESCRIPTION,
        settings=settings,
        routers=[],
        migrations_package="registry.migrations",
        **overrides,
    )
