"""servicekit.routes with further dependencies (``uses``) given to the service by keyword,
a change that replaces (PUT), and a create that documents more responses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Path

from servicekit.auth import Principal
from servicekit.routes import Routes
from servicekit.schemas import ApiModel, ApiOutModel

from .routeskit import serve


class BoatOut(ApiOutModel):
    id: uuid.UUID
    name: str


class BoatIn(ApiModel):
    name: str


def skipper() -> Principal:
    return Principal(subject="skipper-1")


def harbour() -> str:
    return "the-harbour"


Caller = Annotated[Principal, Depends(skipper)]
Harbour = Annotated[str, Depends(harbour)]
BoatId = Annotated[uuid.UUID, Path(alias="boatId")]
BOAT = uuid.UUID(int=7)
LOCATION = {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}}}


@pytest.fixture
def calls() -> list[tuple[Any, ...]]:
    return []


@pytest.fixture
async def client(calls: list[tuple[Any, ...]]) -> AsyncIterator[httpx.AsyncClient]:
    async def load(session: Any, boat_id: uuid.UUID, *, harbour: str) -> Any:
        calls.append(("load", session, boat_id, harbour))
        return BoatOut(id=boat_id, name="Jutter"), '"1"'

    async def replace(
        session: Any,
        caller: Principal,
        boat_id: uuid.UUID,
        body: BoatIn,
        if_match: Any,
        **uses: Any,
    ) -> Any:
        if_match('"1"')  # the boat's current ETag
        calls.append(("replace", session, caller.subject, boat_id, body.name, uses))
        return BoatOut(id=boat_id, name=body.name), '"2"'

    async def make(session: Any, caller: Principal, body: BoatIn, *, harbour: str) -> Any:
        calls.append(("make", session, caller.subject, body.name, harbour))
        return BoatOut(id=BOAT, name=body.name)

    router = APIRouter(tags=["boats"])
    boats = Routes(router, "/v1/boats/{boatId}", BoatOut, BoatId, readers=Caller, writers=Caller)
    boats.create(
        make,
        BoatIn,
        "createBoat",
        "Register a boat",
        uses={"harbour": Harbour},
        responses={"201": LOCATION},
    )
    boats.read(load, "getBoat", "Read a boat", uses={"harbour": Harbour})
    boats.change(
        replace, BoatIn, "replaceBoat", "Replace a boat", method="PUT", uses={"harbour": Harbour}
    )

    async with serve(router) as http:
        yield http


async def test_a_read_gets_further_dependencies_by_keyword(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.get(f"/v1/boats/{BOAT}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert calls == [("load", "the-session", BOAT, "the-harbour")]


async def test_a_change_may_be_a_put_with_if_match(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    assert (await client.patch(f"/v1/boats/{BOAT}", json={"name": "Zwerver"})).status_code == 405
    missing = await client.put(f"/v1/boats/{BOAT}", json={"name": "Zwerver"})
    assert missing.status_code == 428
    response = await client.put(
        f"/v1/boats/{BOAT}", json={"name": "Zwerver"}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Zwerver"
    assert calls == [
        ("replace", "the-session", "skipper-1", BOAT, "Zwerver", {"harbour": "the-harbour"})
    ]


async def test_a_create_documents_further_responses(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.post("/v1/boats", json={"name": "Jutter"})
    assert response.status_code == 201
    assert response.headers["location"] == f"/v1/boats/{BOAT}"
    assert calls == [("make", "the-session", "skipper-1", "Jutter", "the-harbour")]
    operation = client.app.openapi()["paths"]["/v1/boats"]["post"]  # type: ignore[attr-defined]
    assert operation["responses"]["201"]["headers"] == LOCATION["headers"]
    assert {"409", "422"} <= set(operation["responses"])
