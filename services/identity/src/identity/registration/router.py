"""HTTP faces of dynamic registration: ``/auth/register`` (RFC 7591, RFC 7592; protocol
errors as RFC 7591 §3.2.2 says) and ``/v1/initial-access-tokens`` for administrators."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from servicekit.actor import Actor
from servicekit.db import SessionDep
from servicekit.http import json_router
from servicekit.responses import json_response

from ..clients.router import ERRORS, Admin
from ..clients.router import NO_STORE as SECRET_ONCE
from ..context import identity_of
from ..oauth.errors import OAuthError
from ..oauth.forms import NO_STORE
from . import service
from .schemas import (
    ClientMetadata,
    InitialAccessTokenCreated,
    InitialAccessTokenIn,
    InitialAccessTokenOut,
)

router = APIRouter(include_in_schema=False)
admin_router = json_router()
TAGS: list[Any] = ["clients"]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer " or not header[7:].strip():
        raise OAuthError("invalid_token", "A bearer token is required.")
    return header[7:].strip()


async def _metadata(request: Request) -> ClientMetadata:
    try:
        return ClientMetadata.model_validate_json(await request.body())
    except ValidationError as exc:
        raise service.metadata_error(exc) from None


def _error(exc: OAuthError) -> Response:
    return exc.response(www_authenticate='Bearer realm="samen", error="invalid_token"')


@router.post("/auth/register")
async def register(request: Request, session: SessionDep) -> Response:
    """RFC 7591: register a client with an initial access token."""
    try:
        token = _bearer(request)
        metadata = await _metadata(request)
        row, secret, registration_token = await service.register(
            session, metadata, token, identity_of(request).production
        )
    except OAuthError as exc:
        return _error(exc)
    identity_of(request).clients.invalidate()
    body = service.client_metadata(row, identity_of(request).issuer)
    body["registration_access_token"] = registration_token
    if secret:
        body["client_secret"] = secret
        body["client_secret_expires_at"] = 0
    location = body["registration_client_uri"]
    return JSONResponse(body, status_code=201, headers={**NO_STORE, "Location": location})


@router.api_route("/auth/register/{client_id}", methods=["GET", "PUT", "DELETE"])
async def manage(request: Request, client_id: str, session: SessionDep) -> Response:
    """RFC 7592: read, replace or remove a registration with its access token."""
    try:
        row = await service.registered_client(session, client_id, _bearer(request))
        if request.method == "DELETE":
            await service.remove(session, row)
            identity_of(request).clients.invalidate()
            return Response(status_code=204, headers=NO_STORE)
        if request.method == "PUT":
            metadata = await _metadata(request)
            row = await service.update(session, row, metadata, identity_of(request).production)
            identity_of(request).clients.invalidate()
    except OAuthError as exc:
        return _error(exc)
    return JSONResponse(service.client_metadata(row, identity_of(request).issuer), headers=NO_STORE)


@admin_router.post(
    "/v1/initial-access-tokens",
    operation_id="createInitialAccessToken",
    summary="Issue an initial access token for dynamic client registration",
    tags=TAGS,
    status_code=201,
    response_model=InitialAccessTokenCreated,
    responses=ERRORS,
)
async def create_initial_access_token(
    body: InitialAccessTokenIn, session: SessionDep, principal: Admin
) -> Response:
    row, token = await service.issue_initial_token(session, Actor.of(principal), body.expires_in)
    out = InitialAccessTokenCreated.model_validate({**row.model_dump(), "token": token})
    location = f"/v1/initial-access-tokens/{row.id}"
    return json_response(out, status_code=201, location=location, headers=SECRET_ONCE)


@admin_router.get(
    "/v1/initial-access-tokens/{token_id}",
    operation_id="getInitialAccessToken",
    summary="Read an initial access token (never the token itself)",
    tags=TAGS,
    response_model=InitialAccessTokenOut,
    responses={**ERRORS, 404: {"description": "Not found"}},
)
async def get_initial_access_token(
    token_id: uuid.UUID, session: SessionDep, principal: Admin
) -> Response:
    row = await service.initial_token(session, token_id)
    return json_response(InitialAccessTokenOut.model_validate(row))
