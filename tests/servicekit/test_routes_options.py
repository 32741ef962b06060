"""servicekit.routes beyond the plain kinds: a page of a collection, a read that gives the
service what the caller may see, a delete without If-Match, a create named by another
member of its answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Path

from servicekit.auth import Principal
from servicekit.pagination import PageParams
from servicekit.routes import Routes
from servicekit.schemas import ApiModel, ApiOutModel

from .routeskit import serve


class MemberOut(ApiOutModel):
    club_id: uuid.UUID
    name: str


class MemberIn(ApiModel):
    name: str


def staff() -> Principal:
    return Principal(subject="staff-1")


def sees_all() -> str:
    return "the-view"


Caller = Annotated[Principal, Depends(staff)]
View = Annotated[str, Depends(sees_all)]
ClubId = Annotated[uuid.UUID, Path(alias="clubId")]
MemberId = Annotated[uuid.UUID, Path(alias="memberId")]
CLUB = uuid.UUID(int=1)
MEMBER = uuid.UUID(int=2)
NAMES = [f"m{i}" for i in range(5)]


@pytest.fixture
def calls() -> list[tuple[Any, ...]]:
    return []


@pytest.fixture
async def client(calls: list[tuple[Any, ...]]) -> AsyncIterator[httpx.AsyncClient]:
    async def page(session: Any, view: str, club_id: uuid.UUID, params: PageParams) -> Any:
        calls.append(("page", session, view, club_id, params.page, params.page_size))
        items = [MemberOut(club_id=club_id, name=n) for n in NAMES]
        return params.window(items), len(items)

    async def load(session: Any, view: str, club_id: uuid.UUID) -> Any:
        calls.append(("load", session, view, club_id))
        return MemberOut(club_id=club_id, name="founder")

    async def remove(session: Any, caller: Principal, *args: Any) -> None:
        calls.append(("remove", session, caller.subject, *args))

    async def make(session: Any, caller: Principal, body: MemberIn) -> Any:
        return MemberOut(club_id=CLUB, name=body.name)

    router = APIRouter(tags=["clubs"])
    members = Routes(
        router,
        "/v1/clubs/{clubId}/members/{memberId}",
        MemberOut,
        ClubId,
        MemberId,
        readers=Caller,
        writers=Caller,
    )
    members.page(page, "listMembers", "List members", view=View)
    members.delete(remove, "leaveClub", "Leave", errors=(), conditional=False)
    # A resource that is not an item of a collection: read at its own path.
    Routes(router, "/v1/clubs/{clubId}/founder", MemberOut, ClubId, readers=Caller).read(
        load, "getFounder", "Read the founder", view=View
    )
    Routes(router, "/v1/clubs/{clubId}", MemberOut, ClubId, writers=Caller).create(
        make, MemberIn, "foundClub", "Found a club", named_by="club_id"
    )

    async with serve(router) as http:
        yield http


async def test_a_page_gives_the_service_the_view_identifiers_and_page(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.get(f"/v1/clubs/{CLUB}/members", params={"page": 2, "pageSize": 2})
    assert response.status_code == 200
    body = response.json()
    assert [m["name"] for m in body["items"]] == ["m2", "m3"]
    assert body["total"] == len(NAMES)
    assert calls == [("page", "the-session", "the-view", CLUB, 2, 2)]


async def test_a_read_with_a_view_gives_it_after_the_session(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.get(f"/v1/clubs/{CLUB}/founder")
    assert response.status_code == 200
    assert "etag" not in response.headers
    assert calls == [("load", "the-session", "the-view", CLUB)]


async def test_an_unconditional_delete_takes_no_if_match(
    client: httpx.AsyncClient, calls: list[tuple[Any, ...]]
) -> None:
    response = await client.delete(
        f"/v1/clubs/{CLUB}/members/{MEMBER}", headers={"If-Match": '"ignored"'}
    )
    assert response.status_code == 204
    assert calls == [("remove", "the-session", "staff-1", CLUB, MEMBER)]
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operation = paths["/v1/clubs/{clubId}/members/{memberId}"]["delete"]
    assert [p["name"] for p in operation["parameters"]] == ["clubId", "memberId"]
    assert "412" not in operation["responses"]


async def test_a_create_can_name_the_new_item_by_another_member(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/clubs", json={"name": "chess"})
    assert response.status_code == 201
    assert response.headers["location"] == f"/v1/clubs/{CLUB}"
