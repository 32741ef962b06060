"""REST API of the client registry, for platform administrators."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, Security
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal, make_auth
from servicekit.db import SessionDep
from servicekit.errors import Conflict, Forbidden
from servicekit.http import json_router, require_if_match
from servicekit.idempotency import (
    idempotency_key,
    idempotency_owner,
    record,
    replay,
    replay_before,
)
from servicekit.responses import json_response, no_content
from servicekit.routes import Routes

from ..config import get_settings
from ..context import identity_of
from ..db import idempotency_keys
from . import service
from .models import Client
from .schemas import KNOWN_SCOPES, ClientCreated, ClientIn, ClientOut, GrantType

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
    admin_orgs = identity_of(request).settings.admin_org_ids
    if not principal.org_id or principal.org_id not in admin_orgs:
        raise Forbidden("Only platform administrators (of an administrator organisation) may.")
    if "platform-admin" not in principal.roles:
        raise Forbidden("Only platform administrators (role platform-admin) may.")
    return principal


Admin = Annotated[Principal, Depends(platform_admin)]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid input"},
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "The token lacks the scope, or the caller is no platform administrator"},
    406: {"description": "Not acceptable"},
}

router = json_router("clients", responses=ERRORS)

# Answers that carry a secret, shown once: kept by no cache.
NO_STORE = {"Cache-Control": "no-store"}


def _client(row: Client) -> Response:
    return json_response(ClientOut.model_validate(row), etag=service.etag(row))


async def grant_type_filter(
    grant_type: Annotated[
        GrantType | None, Query(alias="grantType", description="Only clients of this grant type")
    ] = None,
) -> str | None:
    return grant_type


Routes(router, "/v1/clients", ClientOut, readers=Admin).page(
    service.list_clients,
    "listClients",
    "List registered clients",
    filters=Annotated[str | None, Depends(grant_type_filter)],
)


@router.post(
    "/v1/clients",
    operation_id="createClient",
    summary="Register a client",
    description=(
        "A client_secret_basic client's `clientSecret` is in this answer only. A repeat with "
        "the same Idempotency-Key answers the same registration with `clientSecret: null` "
        "and `clientSecretWithheld: true`, because only the secret's hash is kept; a client "
        "that lost its secret gets a new one from rotateClientSecret."
    ),
    status_code=201,
    response_model=ClientCreated,
    responses={
        409: {"description": "clientId already registered"},
        422: {"description": "Idempotency-Key reused"},
    },
)
async def create_client(
    request: Request, body: ClientIn, session: SessionDep, principal: Admin
) -> Response:
    """The secret is in this answer only. A repeated Idempotency-Key answers the stored
    copy, which has no secret (``clientSecretWithheld: true``): only its hash may be kept."""
    key = await idempotency_key(request, idempotency_owner(principal))
    if key is not None:
        stored = await replay_before(identity_of(request).database.engine, idempotency_keys, key)
        if stored is not None:
            return stored

    async def keep_answer(tx: AsyncSession, row: Client) -> None:
        # Recorded in the client's own transaction: the key exists exactly when the client does.
        if key is not None:
            await record(tx, idempotency_keys, key, _created(row, None))

    try:
        row, secret = await service.create_client(
            session,
            body,
            Actor.of(principal),
            production=identity_of(request).production,
            on_created=keep_answer,
        )
    except Conflict:
        if key is None:
            raise
        # A concurrent request with this key may have won: its answer (or 422 for another body).
        async with session.begin():
            stored = await replay(session, idempotency_keys, key)
        if stored is None:
            raise
        return stored
    identity_of(request).clients.invalidate()
    return _created(row, secret)


def _created(row: Client, secret: str | None) -> Response:
    """The 201 of a registration; without ``secret`` the copy a replay answers."""
    out = ClientCreated.model_validate(row)
    out.client_secret = secret
    out.client_secret_withheld = secret is None and row.secret_hash is not None
    return json_response(
        out,
        status_code=201,
        etag=service.etag(row),
        location=f"/v1/clients/{row.id}",
        headers=NO_STORE,
    )


@router.get(
    "/v1/clients/{client_id}",
    operation_id="getClient",
    summary="Read a client",
    response_model=ClientOut,
    responses={404: {"description": "Not found"}},
)
async def get_client(client_id: uuid.UUID, session: SessionDep, principal: Admin) -> Response:
    return _client(await service.get_client(session, client_id))


@router.put(
    "/v1/clients/{client_id}",
    operation_id="replaceClient",
    summary="Replace a client's registration",
    response_model=ClientOut,
    responses={
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
        Actor.of(principal),
        precondition=lambda current: require_if_match(request, current),
        production=identity_of(request).production,
    )
    identity_of(request).clients.invalidate()
    return _client(row)


@router.post(
    "/v1/clients/{client_id}/secret",
    operation_id="rotateClientSecret",
    summary="Give a client_secret_basic client a new secret",
    description=(
        "The new `clientSecret` is in this answer only (no Idempotency-Key: a retry gives yet "
        "another secret, the last one answered is valid); the old secret stops working at "
        "once. For a client that lost the secret of its registration."
    ),
    response_model=ClientCreated,
    responses={
        404: {"description": "Not found"},
        409: {"description": "The client does not use client_secret_basic"},
    },
)
async def rotate_client_secret(
    request: Request, client_id: uuid.UUID, session: SessionDep, principal: Admin
) -> Response:
    row, secret = await service.rotate_secret(session, client_id, Actor.of(principal))
    identity_of(request).clients.invalidate()
    out = ClientCreated.model_validate(row)
    out.client_secret = secret
    return json_response(out, etag=service.etag(row), headers=NO_STORE)


@router.delete(
    "/v1/clients/{client_id}",
    operation_id="deleteClient",
    summary="Remove a client",
    status_code=204,
    responses={404: {"description": "Not found"}},
)
async def delete_client(
    request: Request, client_id: uuid.UUID, session: SessionDep, principal: Admin
) -> Response:
    await service.delete_client(session, client_id, Actor.of(principal))
    identity_of(request).clients.invalidate()
    return no_content()
