"""servicekit.routes: the declared read, change, delete and create call the service function
with the path's identifiers in order and answer as a hand-written endpoint would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Path

from servicekit.auth import Principal
from servicekit.db import get_session
from servicekit.http import IfMatch
from servicekit.routes import Routes, allows_anonymous
from servicekit.schemas import ApiModel, ApiOutModel

from .routeskit import serve


class PartOut(ApiOutModel):
    id: uuid.UUID
    thing_id: uuid.UUID
    name: str


class PartIn(ApiModel):
    name: str


def staff() -> Principal:
    return Principal(subject="staff-1")


def nobody() -> Principal | None:
    return None


Caller = Annotated[Principal, Depends(staff)]
AnyCaller = Annotated[Principal | None, Depends(nobody)]
ThingId = Annotated[uuid.UUID, Path(alias="thingId")]
PartId = Annotated[uuid.UUID, Path(alias="partId")]


@pytest.fixture
def calls() -> list[tuple[Any, ...]]:
    return []


@pytest.fixture
async def client(calls: list[tuple[Any, ...]]) -> AsyncIterator[httpx.AsyncClient]:
    async def load(source: Any, thing_id: uuid.UUID, part_id: uuid.UUID) -> Any:
        calls.append(("load", source, thing_id, part_id))
        return PartOut(id=part_id, thing_id=thing_id, name="wheel"), '"v1"'

    async def update(session: Any, caller: Principal, *args: Any) -> Any:
        thing_id, part_id, patch, if_match = args
        calls.append(("update", session, caller.subject, thing_id, part_id, patch, if_match))
        return PartOut(id=part_id, thing_id=thing_id, name=patch.name), '"v2"'

    async def remove(session: Any, caller: Principal, *args: Any) -> None:
        calls.append(("remove", session, caller.subject, *args))

    async def make(session: Any, caller: Principal, thing_id: uuid.UUID, body: PartIn) -> Any:
        calls.append(("make", session, caller.subject, thing_id, body.name))
        return PartOut(id=uuid.UUID(int=7), thing_id=thing_id, name=body.name)

    router = APIRouter(tags=["parts"])
    parts = Routes(
        router,
        "/v1/things/{thingId}/parts/{partId}",
        PartOut,
        ThingId,
        PartId,
        readers=AnyCaller,
        writers=Caller,
    )
    parts.create(make, PartIn, "createPart", "Add a part")
    parts.read(load, "getPart", "Read a part")
    parts.change(update, PartIn, "updatePart", "Change a part")
    parts.delete(remove, "deletePart", "Remove a part", errors=(409, 412))

    async with serve(router) as http:
        yield http


THING = uuid.UUID(int=1)
PART = uuid.UUID(int=2)
PART_URL = f"/v1/things/{THING}/parts/{PART}"


async def test_read_passes_identifiers_in_path_order_and_tags_the_answer(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.get(PART_URL)
    assert response.status_code == 200
    assert response.headers["etag"] == '"v1"'
    assert response.json() == {"id": str(PART), "thingId": str(THING), "name": "wheel"}
    assert calls == [("load", "the-session", THING, PART)]


async def test_change_gives_the_service_the_patch_and_the_if_match(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.patch(PART_URL, json={"name": "axle"}, headers={"If-Match": '"v1"'})
    assert response.status_code == 200
    assert response.headers["etag"] == '"v2"'
    assert response.json()["name"] == "axle"
    (_, session, subject, thing_id, part_id, patch, if_match) = calls[0]
    assert (session, subject, thing_id, part_id, patch.name) == (
        "the-session",
        "staff-1",
        THING,
        PART,
        "axle",
    )
    assert isinstance(if_match, IfMatch)
    assert if_match.header == '"v1"'
    assert if_match.required


async def test_bad_input_never_reaches_the_service(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    bad_body = await client.patch(PART_URL, json={"name": 3}, headers={"If-Match": '"v1"'})
    bad_id = await client.get(f"/v1/things/not-a-uuid/parts/{PART}")
    assert bad_body.status_code == bad_id.status_code == 400
    assert bad_id.headers["content-type"] == "application/problem+json"
    assert calls == []


async def test_delete_answers_204_with_an_optional_if_match(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.delete(PART_URL)
    assert response.status_code == 204
    assert response.content == b""
    (_, _, _, thing_id, part_id, if_match) = calls[0]
    assert (thing_id, part_id, if_match.header, if_match.required) == (THING, PART, None, False)


async def test_create_answers_201_with_the_new_item_below_the_collection(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.post(f"/v1/things/{THING}/parts", json={"name": "bolt"})
    assert response.status_code == 201
    assert response.headers["location"] == f"/v1/things/{THING}/parts/{uuid.UUID(int=7)}"
    assert calls == [("make", "the-session", "staff-1", THING, "bolt")]


async def test_the_openapi_document_reads_like_hand_written_endpoints(
    client: httpx.AsyncClient,
) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    item = paths["/v1/things/{thingId}/parts/{partId}"]
    assert [p["name"] for p in item["get"]["parameters"]] == ["thingId", "partId"]
    assert item["get"]["operationId"] == "getPart"
    assert item["get"]["security"] == [{}]  # anonymous callers allowed
    assert "security" not in item["patch"]
    assert item["patch"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PartIn"
    }
    assert {"204", "409", "412"} <= set(item["delete"]["responses"])
    assert "201" in paths["/v1/things/{thingId}/parts"]["post"]["responses"]


def test_anonymous_callers_are_read_from_the_dependency_type() -> None:
    assert allows_anonymous(AnyCaller)
    assert not allows_anonymous(Caller)


def tenant() -> str:
    return "tenant-a"


Tenant = Annotated[str, Depends(tenant)]


@pytest.fixture
async def options_client(calls: list[tuple[Any, ...]]) -> AsyncIterator[httpx.AsyncClient]:
    """Routes declared with the options: a read per caller, a further dependency for change
    and create, a delete without If-Match, a description."""

    async def load(source: Any, caller: Principal, part_id: uuid.UUID) -> Any:
        calls.append(("load", caller.subject, part_id))
        return PartOut(id=part_id, thing_id=THING, name="wheel"), '"v1"'

    async def update(session: Any, caller: Principal, *args: Any, tenant: str = "") -> Any:
        part_id, patch, _if_match = args
        calls.append(("update", part_id, patch.name, tenant))
        return PartOut(id=part_id, thing_id=THING, name=patch.name), '"v2"'

    async def make(session: Any, caller: Principal, body: PartIn, *, tenant: str) -> Any:
        calls.append(("make", body.name, tenant))
        return PartOut(id=uuid.UUID(int=7), thing_id=THING, name=body.name)

    async def remove(session: Any, caller: Principal, *args: Any) -> None:
        calls.append(("remove", *args))

    async def page_of(session: Any, caller: Principal, params: Any) -> Any:
        calls.append(("page", caller.subject, params.page))
        return [], 0

    router = APIRouter(tags=["parts"])
    parts = Routes(router, "/v1/parts/{partId}", PartOut, PartId, readers=Caller, writers=Caller)
    parts.page(page_of, "listParts", "List my parts", with_caller=True)
    parts.create(make, PartIn, "createPart", "Add a part", uses={"tenant": Tenant})
    parts.read(load, "getPart", "Read a part", with_caller=True)
    parts.change(update, PartIn, "updatePart", "Change a part", description="Rename it.")
    parts.delete(remove, "deletePart", "Remove a part", conditional=False)
    Routes(router, "/v1/tenants/parts/{partId}", PartOut, PartId, writers=Caller).change(
        update, PartIn, "updateTenantPart", "Change a tenant's part", uses={"tenant": Tenant}
    )

    async with serve(router) as http:
        yield http


async def test_options_pass_the_caller_and_further_dependencies_and_drop_if_match(
    options_client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    url = f"/v1/parts/{PART}"
    assert (await options_client.get("/v1/parts")).json()["total"] == 0
    assert (await options_client.get(url)).status_code == 200
    assert (await options_client.post("/v1/parts", json={"name": "bolt"})).status_code == 201
    changed = await options_client.patch(
        f"/v1/tenants/parts/{PART}", json={"name": "axle"}, headers={"If-Match": '"v1"'}
    )
    assert changed.status_code == 200
    assert (await options_client.delete(url, headers={"If-Match": '"v0"'})).status_code == 204
    assert calls == [
        ("page", "staff-1", 1),
        ("load", "staff-1", PART),
        ("make", "bolt", "tenant-a"),
        ("update", PART, "axle", "tenant-a"),
        ("remove", PART),
    ]
    item = options_client.app.openapi()["paths"]["/v1/parts/{partId}"]  # type: ignore[attr-defined]
    assert item["patch"]["description"] == "Rename it."
    assert "description" not in item["get"]
    assert [p["name"] for p in item["delete"]["parameters"]] == ["partId"]


def name_filter(name: str | None = None, size: int | None = None) -> tuple[str | None, int | None]:
    return name, size


def only_name(name: str | None = None) -> str | None:
    return name


async def test_a_filtered_page_gives_the_filters_before_the_page(
    calls: list[tuple[Any, ...]],
) -> None:
    async def page_of(session: Any, thing_id: uuid.UUID, filters: Any, params: Any) -> Any:
        calls.append(("page", thing_id, filters, params.page))
        return [], 0

    router = APIRouter(tags=["parts"])
    Routes(router, "/v1/things/{thingId}/parts", PartOut, ThingId, readers=AnyCaller).page(
        page_of,
        "listParts",
        "List parts",
        filters=Annotated[tuple[str | None, int | None], Depends(name_filter)],
    )
    Routes(router, "/v1/things/{thingId}/named", PartOut, ThingId, readers=AnyCaller).page(
        page_of,
        "listNamed",
        "List parts by name",
        filters=Annotated[str | None, Depends(only_name)],
    )
    app = FastAPI()
    app.include_router(router)

    async def session() -> AsyncIterator[str]:
        yield "the-session"

    app.dependency_overrides[get_session] = session
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get(f"/v1/things/{THING}/parts", params={"name": "axle", "page": 2})
        unfiltered = await http.get(f"/v1/things/{THING}/named")
    assert response.status_code == unfiltered.status_code == 200
    # No filter given is a filter of None, still passed to the service.
    assert calls == [("page", THING, ("axle", None), 2), ("page", THING, None, 1)]
    operation = app.openapi()["paths"]["/v1/things/{thingId}/parts"]["get"]
    # As a hand-written endpoint declares them: the filters, then the page's parameters.
    names = [p["name"] for p in operation["parameters"]]
    assert names == ["thingId", "name", "size", "page", "pageSize"]
