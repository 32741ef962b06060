"""REST API: which clients received which of my attributes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security

from servicekit.auth import Principal
from servicekit.errors import Forbidden
from servicekit.http import json_router
from servicekit.routes import Routes

from ..clients.router import ERRORS, auth
from ..context import identity_of
from . import service
from .schemas import DisclosureOut

Person = Annotated[Principal, Security(auth, scopes=["openid"])]
router = json_router("disclosures", responses=ERRORS)


async def client_sector(request: Request, principal: Person) -> str:
    """The pseudonym sector of the client that the person's token was issued to: the person's
    ``sub`` is pairwise within it."""
    if not principal.acr or principal.subject == principal.client_id:
        raise Forbidden(
            "Only a person logged in through an authorization code flow has disclosures."
        )
    client = await identity_of(request).clients.get(principal.client_id or "")
    if client is None:
        raise Forbidden("The token's client is no longer registered.")
    return client.sector


Routes(router, "/v1/me/disclosures", DisclosureOut, readers=Person).page(
    service.disclosures_of,
    "listMyDisclosures",
    "Which clients received which of my attributes, and when",
    description="For the person the bearer token (from a user login) belongs to.",
    with_caller=True,
    view=Annotated[str, Depends(client_sector)],
)
