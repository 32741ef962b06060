"""REST API: which clients received which of my attributes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response, Security

from servicekit.auth import Principal
from servicekit.db import SessionDep
from servicekit.errors import Forbidden
from servicekit.http import json_router
from servicekit.pagination import Page, PageDep
from servicekit.responses import page_response

from ..clients.router import ERRORS, auth
from ..context import identity_of
from . import service
from .schemas import DisclosureOut

Person = Annotated[Principal, Security(auth, scopes=["openid"])]
router = json_router("disclosures", responses=ERRORS)


@router.get(
    "/v1/me/disclosures",
    operation_id="listMyDisclosures",
    summary="Which clients received which of my attributes, and when",
    response_model=Page[DisclosureOut],
)
async def my_disclosures(
    request: Request,
    session: SessionDep,
    principal: Person,
    params: PageDep,
) -> Response:
    """For the person the bearer token (from a user login) belongs to."""
    if not principal.acr or principal.subject == principal.client_id:
        raise Forbidden(
            "Only a person logged in through an authorization code flow has disclosures."
        )
    client = await identity_of(request).clients.get(principal.client_id or "")
    if client is None:
        raise Forbidden("The token's client is no longer registered.")
    rows, total = await service.disclosures_of(
        session, client.sector, principal.subject, params.offset, params.page_size
    )
    return page_response(request, [DisclosureOut.model_validate(r) for r in rows], total, params)
