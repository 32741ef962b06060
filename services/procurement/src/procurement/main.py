"""Samen Procurement API: application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from servicekit.app import create_service_app

from . import API_VERSION
from .config import Settings, get_settings

SERVICE = "procurement"
DESCRIPTION = "Joint tenders of municipalities: lots, enrollment with a mandate (volmacht), demand and OCDS export."


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        service=SERVICE,
        title="Samen Procurement API",
        version=API_VERSION,
        description=DESCRIPTION,
        settings=settings,
        routers=[],
        migrations_package="procurement.migrations",
        **overrides,
    )
