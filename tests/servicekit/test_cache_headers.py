"""Caches and tokens (servicekit.middleware.RequestContextMiddleware): every answer varies
with ``Authorization``; an answer to a request with a token is ``no-store`` unless the
endpoint chose its own caching."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Security
from fastapi.responses import JSONResponse

from servicekit.app import create_service_app
from servicekit.auth import Principal, make_auth
from servicekit.db import Database
from servicekit.errors import NotFound
from servicekit.settings import ServiceSettings
from servicekit.testing import TestIssuer

auth = make_auth("/auth/token", {"notes:read": "read"})


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/notes", operation_id="listNotes")
    async def notes() -> dict[str, list[str]]:
        return {"items": []}

    @router.get("/v1/private-notes", operation_id="listPrivateNotes")
    async def private_notes(
        _p: Annotated[Principal, Security(auth, scopes=["notes:read"])],
    ) -> dict[str, list[str]]:
        return {"items": ["contract"]}

    @router.get("/v1/keys", operation_id="listKeys")
    async def keys() -> JSONResponse:
        return JSONResponse(
            {"keys": []}, headers={"Cache-Control": "public, max-age=60", "Vary": "Origin"}
        )

    @router.get("/v1/missing", operation_id="missing")
    async def missing() -> None:
        raise NotFound("nothing here")

    return router


@pytest.fixture
async def client(tmp_path: Path, issuer: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        service="notes",
        title="Notes",
        version="1.0.0",
        description="Notes",
        settings=ServiceSettings(environment="test", log_json=False),
        routers=[_router()],
        database=Database(f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}"),
        token_verifier=issuer.verifier(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def _vary(response: httpx.Response) -> list[str]:
    return [v.strip().lower() for v in ",".join(response.headers.get_list("vary")).split(",")]


async def test_an_answer_to_a_token_holder_is_not_stored(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    token = issuer.headers(scopes=["notes:read"])
    for path, status in [
        ("/v1/private-notes", 200),
        ("/v1/notes", 200),
        ("/v1/missing", 404),
        ("/v1/nowhere", 404),
    ]:
        for method in ("GET", "HEAD"):
            response = await client.request(method, path, headers=token)
            assert response.status_code == status, (method, path)
            assert response.headers.get_list("cache-control") == ["no-store"], (method, path)
            assert "authorization" in _vary(response), (method, path)
    refused = await client.get("/v1/private-notes", headers={"Authorization": "Bearer nonsense"})
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"


async def test_public_answers_vary_with_the_token_and_keep_their_caching(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    public = await client.get("/v1/notes")
    assert public.status_code == 200
    assert "cache-control" not in public.headers
    assert _vary(public) == ["authorization"]
    assert "authorization" in _vary(await client.get("/v1/private-notes"))  # the 401
    assert "authorization" in _vary(await client.get("/health/live"))

    # An endpoint's own choice stays, for a token holder too; its Vary is extended.
    for headers in ({}, issuer.headers(scopes=["notes:read"])):
        keys = await client.get("/v1/keys", headers=headers)
        assert keys.headers.get_list("cache-control") == ["public, max-age=60"]
        assert _vary(keys) == ["origin", "authorization"]
