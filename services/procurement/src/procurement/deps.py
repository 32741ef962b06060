"""Dependencies shared by the routers: authentication, the clock, the registry client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from servicekit.auth import Principal, make_auth
from servicekit.events import current_traceparent

from .config import get_settings
from .registry_client import RegistryClient

SCOPE_READ = "procurement:read"
SCOPE_ENROLL = "procurement:enroll"
SCOPE_MANAGE = "procurement:manage"
SCOPES = {
    SCOPE_READ: "Read tenders, lots, demand and OCDS exports",
    SCOPE_ENROLL: "Enroll a municipality in a tender (municipality staff with a mandate)",
    SCOPE_MANAGE: "Manage a tender (staff of its lead party)",
}

auth = make_auth(get_settings().token_url, SCOPES)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def get_clock(request: Request) -> Clock:
    clock: Clock = getattr(request.app.state, "clock", utc_now)
    return clock


async def get_registry(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


ClockDep = Annotated[Clock, Depends(get_clock)]
RegistryDep = Annotated[RegistryClient, Depends(get_registry)]


@dataclass(frozen=True)
class Actor:
    """Who made a change, for history rows (no personal identifiers beyond the sub)."""

    subject: str
    org_id: str | None
    client_id: str | None
    trace: str | None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.subject, principal.org_id, principal.client_id, current_traceparent())

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "orgId": self.org_id, "clientId": self.client_id}


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
