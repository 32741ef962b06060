"""Dependencies shared by the routers: scopes, authentication, the registry client."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security

from servicekit.auth import Principal, make_auth

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

# The caller of an endpoint, verified for one of the scopes.
Reader = Annotated[Principal, Security(auth, scopes=[SCOPE_READ])]
Enroller = Annotated[Principal, Security(auth, scopes=[SCOPE_ENROLL])]
Manager = Annotated[Principal, Security(auth, scopes=[SCOPE_MANAGE])]


async def get_registry(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


RegistryDep = Annotated[RegistryClient, Depends(get_registry)]
