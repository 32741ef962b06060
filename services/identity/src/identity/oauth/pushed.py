"""Pushed Authorization Requests (RFC 9126): ``POST /auth/par``. The client authenticates
as at the token endpoint and pushes the authorization parameters (or a request object);
they are validated at once and answered with a one-time ``request_uri``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..authorization.request_objects import PUSHED_PREFIX
from ..authorization.service import PUSHED_LIFETIME
from ..context import identity_of
from .errors import OAuthError
from .forms import NO_STORE, client_form

router = APIRouter(include_in_schema=False)
CLIENT_AUTHENTICATION = ("client_assertion", "client_assertion_type", "client_secret")


@router.post("/auth/par")
async def pushed_authorization_request(request: Request) -> Response:
    p = identity_of(request)
    try:
        client, form = await client_form(request, "/auth/par")
        if "request_uri" in form:
            raise OAuthError("invalid_request", "request_uri cannot be pushed.")
        if form.get("client_id", client.client_id) != client.client_id:
            raise OAuthError("invalid_request", "client_id is not the authenticated client.")
        params = {k: v for k, v in form.items() if k not in CLIENT_AUTHENTICATION}
        params["client_id"] = client.client_id
        row = await p.authorization.push(params)
    except OAuthError as exc:
        return exc.response()
    body = {"request_uri": PUSHED_PREFIX + row.id, "expires_in": PUSHED_LIFETIME}
    return JSONResponse(body, status_code=201, headers=NO_STORE)
