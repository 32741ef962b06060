"""REST API of the client registry, for platform administrators."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.responses import JSONResponse, Response

from servicekit.auth import Principal, make_auth
from servicekit.db import SessionDep
from servicekit.errors import Forbidden
from servicekit.http import json_router, require_if_match
from servicekit.idempotency import IdempotencyStore
from servicekit.pagination import Page, PageParams, make_page, page_params

from ..config import get_settings
from ..db import idempotency_keys
from . import service
from .models import Client
from .schemas import KNOWN_SCOPES, ClientCreated, ClientIn, ClientOut

# The REST API's bearer token check (OpenAPI security scheme with the known scopes).
auth = make_auth(get_settings().issuer.rstrip("/") + "/auth/token", KNOWN_SCOPES)


async def platform_admin(
    request: Request, principal: Annotated[Principal, Security(auth, scopes=["identity:admin"])]
) -> Principal:
    """A platform administrator: the identity:admin scope *and* acting for an organisation
    listed in IDENTITY_ADMIN_ORG_IDS with the platform-admin role (users get that role from
    the platformbeheer machtiging of such an organisation; machine clients from their
    registration). Checked on every request, so removing an organisation from the setting
    takes effect at once, also for tokens issued before."""
    admin_orgs = request.app.state.identity.settings.admin_org_ids
    if not principal.org_id or principal.org_id not in admin_orgs:
        raise Forbidden("Only platform administrators (of an administrator organisation) may.")
    if "platform-admin" not in principal.roles:
        raise Forbidden("Only platform administrators (role platform-admin) may.")
    return principal


Admin = Annotated[Principal, Depends(platform_admin)]

router = json_router()
TAGS: list[str | Any] = ["clients"]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid input"},
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "The token lacks the scope, or the caller is no platform administrator"},
    406: {"description": "Not acceptable"},
}


def _out(row: Client, secret: str | None = None) -> dict[str, Any]:
    model = ClientCreated.model_validate(row)
    model.client_secret = secret
    data = model.model_dump(mode="json", by_alias=True)
    if secret is None:
        data.pop("clientSecret", None)
    return data


def _actor(principal: Principal) -> str:
    return f"{principal.client_id or '-'}:{principal.subject}"


@router.get(
    "/v1/clients",
    operation_id="listClients",
    summary="List registered clients",
    tags=TAGS,
    response_model=Page[ClientOut],
    responses=ERRORS,
)
async def list_clients(
    request: Request,
    session: SessionDep,
    principal: Admin,
    params: Annotated[PageParams, Depends(page_params)],
    grant_type: Annotated[
        str | None, Query(alias="grantType", pattern="^(authorization_code|client_credentials)$")
    ] = None,
) -> Any:
    rows, total = await service.list_clients(session, params.offset, params.page_size, grant_type)
    items = [ClientOut.model_validate(r).model_dump(mode="json", by_alias=True) for r in rows]
    return JSONResponse(make_page(request, items, total, params))


@router.post(
    "/v1/clients",
    operation_id="createClient",
    summary="Register a client",
    tags=TAGS,
    status_code=201,
    response_model=ClientCreated,
    responses={
        **ERRORS,
        409: {"description": "clientId already registered"},
        422: {"description": "Idempotency-Key reused"},
    },
)
async def create_client(
    request: Request, body: ClientIn, session: SessionDep, principal: Admin
) -> Response:
    async def handler() -> Response:
        row, secret = await service.create_client(
            session, body, _actor(principal), production=_production(request)
        )
        request.app.state.identity.clients.invalidate()
        return JSONResponse(
            _out(row, secret),
            status_code=201,
            headers={
                "Location": f"/v1/clients/{row.id}",
                "ETag": service.etag(row),
                "Cache-Control": "no-store",
            },
        )

    store = IdempotencyStore(idempotency_keys, request.app.state.database.sessionmaker)
    return await store.run(request, _actor(principal), handler)


def _production(request: Request) -> bool:
    return bool(request.app.state.identity.settings.environment == "production")


@router.get(
    "/v1/clients/{client_id}",
    operation_id="getClient",
    summary="Read a client",
    tags=TAGS,
    response_model=ClientOut,
    responses={**ERRORS, 404: {"description": "Not found"}},
)
async def get_client(client_id: uuid.UUID, session: SessionDep, principal: Admin) -> Response:
    row = await service.get_client(session, client_id)
    return JSONResponse(_out(row), headers={"ETag": service.etag(row)})


@router.put(
    "/v1/clients/{client_id}",
    operation_id="replaceClient",
    summary="Replace a client's registration",
    tags=TAGS,
    response_model=ClientOut,
    responses={
        **ERRORS,
        404: {"description": "Not found"},
        409: {"description": "Changed meanwhile"},
        412: {"description": "If-Match does not match"},
        428: {"description": "If-Match required"},
    },
)
async def replace_client(
    request: Request, client_id: uuid.UUID, body: ClientIn, session: SessionDep, principal: Admin
) -> Response:
    row = await service.replace_client(
        session,
        client_id,
        body,
        _actor(principal),
        precondition=lambda current: require_if_match(request, current),
        production=_production(request),
    )
    request.app.state.identity.clients.invalidate()
    return JSONResponse(_out(row), headers={"ETag": service.etag(row)})


@router.delete(
    "/v1/clients/{client_id}",
    operation_id="deleteClient",
    summary="Remove a client",
    tags=TAGS,
    status_code=204,
    responses={**ERRORS, 404: {"description": "Not found"}},
)
async def delete_client(
    request: Request, client_id: uuid.UUID, session: SessionDep, principal: Admin
) -> Response:
    await service.delete_client(session, client_id, _actor(principal))
    request.app.state.identity.clients.invalidate()
    return Response(status_code=204)
