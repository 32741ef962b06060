"""Fake identity (JWKS, client_credentials) and registry (organisations, facility,
usages) for the procurement benchmark, run in its own process so that the load
generator and this fake do not compete for one interpreter lock.

    python bench/procurement/fake_upstreams.py PORT STATE.json

STATE.json holds the private signing key (JWK) and the registry data the benchmark made.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def build(state: dict[str, Any]) -> Starlette:
    key = RSAKey.import_key(state["key"])
    jwks = KeySet([key]).as_dict(private=False)
    facility = state["facility"]
    orgs = {o["id"]: o for o in state["organisations"]}
    by_oin = {o["oin"]: o for o in state["organisations"]}
    usages: dict[str, list[dict[str, Any]]] = state["usages"]

    async def keys(_request: Request) -> JSONResponse:
        return JSONResponse(jwks)

    async def token(_request: Request) -> JSONResponse:
        now = int(time.time())
        claims = {
            "iss": state["issuer"],
            "aud": "samen",
            "sub": "procurement",
            "azp": "procurement",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "scope": "registry:read",
        }
        access = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 300})

    async def get_facility(request: Request) -> JSONResponse:
        found = request.path_params["id"] == facility["id"]
        return JSONResponse(facility if found else {}, status_code=200 if found else 404)

    async def get_org(request: Request) -> JSONResponse:
        org = orgs.get(request.path_params["id"])
        return JSONResponse(org or {}, status_code=200 if org else 404)

    def page(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
        """The registry's paging: ``page`` from 1, ``pageSize`` up to 100, ``total``."""
        number = int(request.query_params.get("page", "1"))
        size = min(100, int(request.query_params.get("pageSize", "20")))
        chunk = items[(number - 1) * size : number * size]
        return JSONResponse({"items": chunk, "total": len(items), "page": number})

    async def list_orgs(request: Request) -> JSONResponse:
        params = request.query_params
        if params.get("oin"):
            org = by_oin.get(params["oin"])
            return page(request, [org] if org else [])
        return page(request, [o for o in orgs.values() if o["type"] == params.get("type")])

    async def list_usages(request: Request) -> JSONResponse:
        params = request.query_params
        if params.get("municipalityId"):
            return page(request, usages.get(params["municipalityId"], []))
        return page(
            request,
            [
                u
                for items in usages.values()
                for u in items
                if u["facilityId"] == params.get("facilityId")
                and params.get("status") in (None, u["status"])
            ],
        )

    return Starlette(
        routes=[
            Route("/auth/jwks", keys),
            Route("/auth/token", token, methods=["POST"]),
            Route("/v1/facilities/{id}", get_facility),
            Route("/v1/organisations/{id}", get_org),
            Route("/v1/organisations", list_orgs),
            Route("/v1/usages", list_usages),
        ]
    )


def main() -> None:
    port, state_file = int(sys.argv[1]), Path(sys.argv[2])
    app = build(json.loads(state_file.read_text(encoding="utf-8")))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
