"""servicekit.routes: one Routes per resource. Its path names the item (read, change,
delete) and the item's collection (page, create); its readers and writers are the callers of
each kind of operation; its identifiers are the types of the path's parameters in order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Path

from servicekit.auth import Principal
from servicekit.errors import NotFound
from servicekit.pagination import PageParams
from servicekit.routes import Routes
from servicekit.schemas import ApiModel, ApiOutModel

from .routeskit import serve


class ShelfOut(ApiOutModel):
    id: uuid.UUID
    room_id: uuid.UUID
    label: str


class ShelfIn(ApiModel):
    label: str


def librarian() -> Principal:
    return Principal(subject="librarian-1")


def visitor() -> Principal | None:
    return None


Writer = Annotated[Principal, Depends(librarian)]
Reader = Annotated[Principal | None, Depends(visitor)]
RoomId = Annotated[uuid.UUID, Path(alias="roomId")]
ShelfId = Annotated[uuid.UUID, Path(alias="shelfId")]
ROOM = uuid.UUID(int=1)
SHELF = uuid.UUID(int=2)
ITEM = f"/v1/rooms/{ROOM}/shelves/{SHELF}"
COLLECTION = f"/v1/rooms/{ROOM}/shelves"


class Shelves:
    """A store of one shelf, at revision "1", that answers as service functions do."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.label = "poetry"
        self.etag = '"1"'

    def out(self, room_id: uuid.UUID) -> ShelfOut:
        return ShelfOut(id=SHELF, room_id=room_id, label=self.label)

    def find(self, shelf_id: uuid.UUID) -> None:
        if shelf_id != SHELF:
            raise NotFound("No such shelf.")

    async def page(self, session: Any, room_id: uuid.UUID, params: PageParams) -> Any:
        self.calls.append(("page", room_id, params.page))
        return [self.out(room_id)], 1

    async def make(self, session: Any, caller: Principal, room_id: uuid.UUID, body: Any) -> Any:
        self.calls.append(("make", caller.subject, room_id, body.label))
        return ShelfOut(id=uuid.UUID(int=9), room_id=room_id, label=body.label), '"1"'

    async def read(self, session: Any, room_id: uuid.UUID, shelf_id: uuid.UUID) -> Any:
        self.find(shelf_id)
        return self.out(room_id), self.etag

    async def change(self, session: Any, caller: Principal, *args: Any) -> Any:
        room_id, shelf_id, patch, if_match = args
        self.find(shelf_id)
        if_match(self.etag)
        self.label, self.etag = patch.label, '"2"'
        return self.out(room_id), self.etag

    async def remove(self, session: Any, caller: Principal, *args: Any) -> None:
        room_id, shelf_id, if_match = args
        self.find(shelf_id)
        if_match(self.etag)
        self.calls.append(("remove", caller.subject, room_id, shelf_id))


@pytest.fixture
def shelves() -> Shelves:
    return Shelves()


@pytest.fixture
async def client(shelves: Shelves) -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter(tags=["shelves"])
    resource = Routes(
        router,
        "/v1/rooms/{roomId}/shelves/{shelfId}",
        ShelfOut,
        RoomId,
        ShelfId,
        readers=Reader,
        writers=Writer,
    )
    resource.page(shelves.page, "listShelves", "List the shelves of a room")
    resource.create(shelves.make, ShelfIn, "createShelf", "Put up a shelf")
    resource.read(shelves.read, "getShelf", "Read a shelf")
    resource.change(shelves.change, ShelfIn, "updateShelf", "Relabel a shelf")
    resource.delete(shelves.remove, "deleteShelf", "Take down a shelf")

    async with serve(router) as http:
        yield http


async def test_page_and_create_act_on_the_collection_with_its_identifiers(
    client: httpx.AsyncClient, shelves: Shelves
) -> None:
    page = await client.get(COLLECTION)
    created = await client.post(COLLECTION, json={"label": "prose"})
    assert page.status_code == 200
    assert page.json()["total"] == 1
    assert created.status_code == 201
    assert created.headers["location"] == f"{COLLECTION}/{uuid.UUID(int=9)}"
    assert created.headers["etag"] == '"1"'
    assert shelves.calls == [("page", ROOM, 1), ("make", "librarian-1", ROOM, "prose")]


async def test_read_change_and_delete_act_on_the_item_with_its_etag(
    client: httpx.AsyncClient, shelves: Shelves
) -> None:
    read = await client.get(ITEM)
    assert (read.status_code, read.headers["etag"]) == (200, '"1"')
    changed = await client.patch(ITEM, json={"label": "plays"}, headers={"If-Match": '"1"'})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')
    assert changed.json()["label"] == "plays"
    deleted = await client.delete(ITEM, headers={"If-Match": '"2"'})
    assert deleted.status_code == 204
    assert shelves.calls == [("remove", "librarian-1", ROOM, SHELF)]


@pytest.mark.parametrize(
    ("method", "url", "headers", "status"),
    [
        ("GET", f"{COLLECTION}/{uuid.UUID(int=5)}", {}, 404),
        ("PATCH", ITEM, {}, 428),
        ("PATCH", ITEM, {"If-Match": '"0"'}, 412),
        ("DELETE", ITEM, {"If-Match": '"0"'}, 412),
        ("DELETE", f"{COLLECTION}/{uuid.UUID(int=5)}", {}, 404),
    ],
)
async def test_errors_of_the_service_and_the_if_match_are_problems(
    client: httpx.AsyncClient,
    shelves: Shelves,
    method: str,
    url: str,
    headers: dict[str, str],
    status: int,
) -> None:
    response = await client.request(method, url, json={"label": "x"}, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert shelves.label == "poetry"
    assert shelves.calls == []


async def test_the_document_puts_each_operation_on_its_path_with_its_callers(
    client: httpx.AsyncClient,
) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    collection = paths["/v1/rooms/{roomId}/shelves"]
    item = paths["/v1/rooms/{roomId}/shelves/{shelfId}"]
    assert (set(collection), set(item)) == ({"get", "post"}, {"get", "patch", "delete"})
    assert [p["name"] for p in collection["post"]["parameters"]] == ["roomId"]
    assert [p["name"] for p in item["patch"]["parameters"]] == ["roomId", "shelfId"]
    # The readers let anonymous callers in, the writers do not.
    assert collection["get"]["security"] == item["get"]["security"] == [{}]
    assert "security" not in collection["post"]
    assert "security" not in item["delete"]


def test_a_path_that_ends_in_a_word_is_itself_what_every_operation_acts_on() -> None:
    router = APIRouter()
    routes = Routes(router, "/v1/rooms/{roomId}/plan", ShelfOut, RoomId, readers=Reader)
    routes.read(Shelves().read, "getPlan", "Read a room's plan")
    routes.page(Shelves().page, "listPlans", "List the plans")
    assert [(route.path, route.methods) for route in router.routes] == [  # type: ignore[attr-defined]
        ("/v1/rooms/{roomId}/plan", {"GET"}),
        ("/v1/rooms/{roomId}/plan", {"GET"}),
    ]


def test_an_operation_needs_its_kind_of_callers_and_the_path_its_types() -> None:
    router = APIRouter()
    read_only = Routes(router, "/v1/rooms/{roomId}", ShelfOut, RoomId, readers=Reader)
    with pytest.raises(TypeError, match="no writers"):
        read_only.change(Shelves().change, ShelfIn, "updateRoom", "Change a room")
    write_only = Routes(router, "/v1/rooms/{roomId}", ShelfOut, RoomId, writers=Writer)
    with pytest.raises(TypeError, match="no readers"):
        write_only.read(Shelves().read, "getRoom", "Read a room")
    with pytest.raises(TypeError, match="2 parameters, given 1 types"):
        Routes(router, "/v1/rooms/{roomId}/shelves/{shelfId}", ShelfOut, RoomId)
    assert router.routes == []
