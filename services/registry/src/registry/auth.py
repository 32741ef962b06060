"""Who may call what: scopes and the platform-operator rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import Security

from servicekit.auth import Principal, make_auth, make_public_auth
from servicekit.errors import Forbidden

from .config import get_settings

READ = "registry:read"
WRITE = "registry:write"
EXPOSURE = "registry:exposure"
CONTRACTS = "registry:contracts"
SCOPES = {
    READ: "Read the catalogue: organisations, facilities, offerings, usages, events",
    WRITE: "Change the catalogue (subject to ownership of the data)",
    EXPOSURE: "Read which municipalities run vulnerable versions (own municipality, "
    "offering's supplier or operator only)",
    CONTRACTS: "Read every organisation's contract details (contract ends, notice periods, "
    "value bands, annual costs; the radar and costs); without it, a municipality's own only",
}

MUNICIPALITY = "municipality"
SUPPLIER = "supplier"

TOKEN_URL = f"{get_settings().public_url.rstrip('/')}/auth/token"
auth = make_auth(TOKEN_URL, SCOPES)
# The public catalogue (facilities, offerings, organisations, initiatives, search) is
# readable without a token; contracts, costs, notices, history and the feed are not.
public_auth = make_public_auth(TOKEN_URL, SCOPES)

# The caller of an endpoint, verified for one of the scopes.
Reader = Annotated[Principal, Security(auth, scopes=[READ])]
Writer = Annotated[Principal, Security(auth, scopes=[WRITE])]
# The caller of a public read: None when anonymous (the route declares ANONYMOUS_ALLOWED).
PublicReader = Annotated[Principal | None, Security(public_auth, scopes=[READ])]
# Exposure is a read of the catalogue that needs more (its own scope too).
ExposureReader = Annotated[Principal, Security(auth, scopes=[READ, EXPOSURE])]


def is_operator(principal: Principal) -> bool:
    return principal.is_operator


def require_operator(principal: Principal, what: str) -> None:
    """Organisations and facilities are managed by the platform operator only."""
    if not is_operator(principal):
        raise Forbidden(f"Only the platform operator may {what}.")
