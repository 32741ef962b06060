"""Dependencies shared by the routers: scopes, authentication, the registry client."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request, Security

from servicekit.auth import Principal, make_auth, make_public_auth

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

# Published tenders and their lots are readable without a token; drafts, enrollments,
# mandates, demand, OCDS exports and history are not.
public_auth = make_public_auth(get_settings().token_url, SCOPES)
PublicReader = Annotated[Principal | None, Security(public_auth, scopes=[SCOPE_READ])]


async def published_only(principal: PublicReader) -> bool:
    """Whether the caller sees only published tenders (no procurement:read token)."""
    return principal is None or SCOPE_READ not in principal.scopes


PublishedOnly = Annotated[bool, Depends(published_only)]


async def get_registry(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


RegistryDep = Annotated[RegistryClient, Depends(get_registry)]

# The path parameters of the resources: every one below /v1/tenders/{tenderId} names it.
TenderId = Annotated[uuid.UUID, Path(alias="tenderId", description="Tender id")]
LotId = Annotated[uuid.UUID, Path(alias="lotId", description="Lot id")]
EnrollmentId = Annotated[uuid.UUID, Path(alias="enrollmentId", description="Enrollment id")]
MergerId = Annotated[uuid.UUID, Path(alias="mergerId")]
# The 201 of a create, documented with its Location header.
CREATED = {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}}}
