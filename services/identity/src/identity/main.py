"""Samen Identity API: application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from servicekit.app import create_service_app

from . import API_VERSION
from .config import Settings, get_settings

SERVICE = "identity"
DESCRIPTION = (
    "OpenID Provider and authentication broker for citizens, companies and civil servants."
)


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        service=SERVICE,
        title="Samen Identity API",
        version=API_VERSION,
        description=DESCRIPTION,
        settings=settings,
        routers=[],
        migrations_package="identity.migrations",
        **overrides,
    )
