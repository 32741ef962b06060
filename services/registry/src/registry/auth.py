"""Who may call what: scopes and the platform-operator rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import Security

from servicekit.auth import Principal, make_auth
from servicekit.errors import Forbidden

from .config import get_settings

READ = "registry:read"
WRITE = "registry:write"
SCOPES = {
    READ: "Read the catalogue: organisations, facilities, offerings, usages, events",
    WRITE: "Change the catalogue (subject to ownership of the data)",
}

OPERATOR = "operator"
MUNICIPALITY = "municipality"
SUPPLIER = "supplier"

auth = make_auth(f"{get_settings().public_url.rstrip('/')}/auth/token", SCOPES)

# The caller of an endpoint, verified for one of the scopes.
Reader = Annotated[Principal, Security(auth, scopes=[READ])]
Writer = Annotated[Principal, Security(auth, scopes=[WRITE])]


def is_operator(principal: Principal) -> bool:
    return principal.org_type == OPERATOR and bool(principal.org_id)


def require_operator(principal: Principal, what: str) -> None:
    """Organisations and facilities are managed by the platform operator only."""
    if not is_operator(principal):
        raise Forbidden(f"Only the platform operator may {what}.")
