"""servicekit.fastreads: which routes can be planned, and a small app answered the same
with and without the fast path (the registry's own tests compare its real reads)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import AliasChoices

from servicekit.app import create_service_app
from servicekit.auth import Principal, make_auth
from servicekit.db import Database
from servicekit.errors import NotFound
from servicekit.fastreads import FastReadStats, NotEligible, fast_routes
from servicekit.settings import ServiceSettings
from servicekit.testing import TestIssuer

auth = make_auth("http://issuer.test/token", {"things:read": "Read things"})


async def session_like() -> AsyncIterator[str]:
    yield "session"


async def multiplier(factor: Annotated[int, Query(ge=1, le=10)] = 2) -> int:
    return factor


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/things/{thingId}", operation_id="getThing")
    async def get_thing(
        principal: Annotated[Principal, Depends(auth)],
        number: Annotated[int, Path(alias="thingId", ge=0)],
        factor: Annotated[int, Depends(multiplier)],
        label: Annotated[str | None, Query(max_length=5)] = None,
    ) -> Response:
        if number == 404:
            raise NotFound("No such thing.")
        body = f'{{"thing":{number * factor},"label":"{label or "-"}","by":"{principal.subject}"}}'
        return Response(body, media_type="application/json")

    @router.post("/v1/things", operation_id="createThing")
    async def create_thing() -> Response:
        return Response(status_code=201)

    @router.get("/v1/sessions", operation_id="listSessions")
    async def sessions(session: Annotated[str, Depends(session_like)]) -> Response:
        return Response(session)

    @router.get("/v1/aliases", operation_id="readAliases")
    async def aliases(
        name: Annotated[str, Query(validation_alias=AliasChoices("name", "naam"))],
    ) -> Response:
        return Response(name)

    @router.get("/v1/headers", operation_id="readHeader")
    async def header(x_thing: Annotated[str, Header()]) -> Response:
        return Response(x_thing)

    return router


def test_only_plannable_get_routes_are_accepted() -> None:
    router = build_router()
    assert [r.route.path for r in fast_routes([router], ["getThing"])] == ["/v1/things/{thingId}"]
    with pytest.raises(NotEligible, match="no such GET operation: nothing"):
        fast_routes([router], ["getThing", "nothing"])
    with pytest.raises(NotEligible, match="only GET"):
        fast_routes([router], ["createThing"])
    with pytest.raises(NotEligible, match="session_like is not an async function"):
        fast_routes([router], ["listSessions"])
    with pytest.raises(NotEligible, match="header"):
        fast_routes([router], ["readHeader"])
    with pytest.raises(NotEligible, match="alias choices"):
        fast_routes([router], ["readAliases"])


@pytest.fixture
async def clients(
    tmp_path: FilePath, issuer: TestIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, FastReadStats]]:
    apps = []
    for fast in (True, False):
        settings = ServiceSettings(environment="test", log_json=False, fast_reads=fast)
        apps.append(
            create_service_app(
                service="things",
                title="Things",
                version="1.0.0",
                description="Things to read",
                settings=settings,
                routers=[build_router()],
                database=Database(f"sqlite+aiosqlite:///{tmp_path / 'things.db'}"),
                token_verifier=issuer.verifier(),
                fast_reads=["getThing"],
            )
        )
    assert not hasattr(apps[1].state, "fast_reads")
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(apps[0]), base_url="http://t") as fast,
        httpx.AsyncClient(transport=httpx.ASGITransport(apps[1]), base_url="http://t") as plain,
    ):
        yield fast, plain, apps[0].state.fast_reads


async def test_same_answers_with_and_without_the_fast_path(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, FastReadStats], issuer: TestIssuer
) -> None:
    fast, plain, stats = clients
    token = issuer.headers(sub="reader", scopes=["things:read"])
    cases = [
        ("/v1/things/21", token, 200),
        ("/v1/things/21?factor=3&label=abc", token, 200),
        ("/v1/things/404", token, 404),
        ("/v1/things/21?factor=11", token, 400),
        ("/v1/things/21?label=toolong", token, 400),
        ("/v1/things/-1", token, 400),
        ("/v1/things/21", {}, 401),
    ]
    for url, headers, status in cases:
        a, b = await fast.get(url, headers=headers), await plain.get(url, headers=headers)
        assert (a.status_code, b.status_code) == (status, status), (url, a.text)
        assert a.content == b.content, url
        assert a.headers.get("content-type") == b.headers.get("content-type")
        assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")
    r = await fast.get("/v1/things/21?factor=3", headers=token)
    assert r.json() == {"thing": 63, "label": "-", "by": "reader"}
    # Good ones and refusals with a handler (404, 401) answered here; bad parameters not.
    assert (stats.answered, stats.handed_on) == (5, 3)
