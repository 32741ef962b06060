"""Pagination links, ETag / If-Match, Idempotency-Key, and the CloudEvents feed."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from .conftest import outbox, widgets


async def count(app, table) -> int:  # type: ignore[no-untyped-def]
    async with app.state.database.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_pagination_links(client: httpx.AsyncClient, writer: dict) -> None:
    for i in range(5):
        assert (
            await client.post("/v1/widgets", json={"name": f"w{i}"}, headers=writer)
        ).status_code == 201
    page = (await client.get("/v1/widgets?pageSize=2&page=2&q=w", headers=writer)).json()
    assert page["total"] == 5
    assert [w["name"] for w in page["items"]] == ["w2", "w3"]
    links = page["_links"]
    assert links["self"]["href"] == "/v1/widgets?q=w&page=2&pageSize=2"
    assert links["next"]["href"] == "/v1/widgets?q=w&page=3&pageSize=2"
    assert links["prev"]["href"] == "/v1/widgets?q=w&page=1&pageSize=2"
    last = (await client.get(links["last"]["href"], headers=writer)).json()
    assert [w["name"] for w in last["items"]] == ["w4"]
    assert "next" not in last["_links"]
    first = (await client.get("/v1/widgets?pageSize=2", headers=writer)).json()
    assert "prev" not in first["_links"]


async def test_page_size_is_limited(client: httpx.AsyncClient, reader: dict) -> None:
    response = await client.get("/v1/widgets?pageSize=101", headers=reader)
    assert response.status_code == 400


async def test_if_match_required_and_checked(client: httpx.AsyncClient, writer: dict) -> None:
    created = await client.post("/v1/widgets", json={"name": "a"}, headers=writer)
    location = created.headers["location"]
    etag = (await client.get(location, headers=writer)).headers["etag"]

    missing = await client.put(location, json={"name": "b"}, headers=writer)
    assert missing.status_code == 428

    updated = await client.put(location, json={"name": "b"}, headers={**writer, "if-match": etag})
    assert updated.status_code == 200
    assert updated.headers["etag"] != etag

    stale = await client.put(location, json={"name": "c"}, headers={**writer, "if-match": etag})
    assert stale.status_code == 412
    assert stale.json()["currentETag"] == updated.headers["etag"]
    assert (await client.get(location, headers=writer)).json()["name"] == "b"


async def test_idempotent_replay_returns_the_same_response_once(
    client: httpx.AsyncClient, writer: dict, demo_app
) -> None:  # type: ignore[no-untyped-def]
    headers = {**writer, "Idempotency-Key": "key-1"}
    first = await client.post("/v1/widgets", json={"name": "once"}, headers=headers)
    second = await client.post("/v1/widgets", json={"name": "once"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert await count(demo_app, widgets) == 1


async def test_same_key_other_body_is_422(
    client: httpx.AsyncClient, writer: dict, demo_app
) -> None:  # type: ignore[no-untyped-def]
    headers = {**writer, "Idempotency-Key": "key-2"}
    assert (
        await client.post("/v1/widgets", json={"name": "a"}, headers=headers)
    ).status_code == 201
    other = await client.post("/v1/widgets", json={"name": "b"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert await count(demo_app, widgets) == 1


async def test_keys_are_scoped_per_caller(client: httpx.AsyncClient, issuer, demo_app) -> None:  # type: ignore[no-untyped-def]
    for sub in ("alice", "bob"):
        headers = {**issuer.headers(sub=sub, scopes=["demo:write"]), "Idempotency-Key": "shared"}
        assert (
            await client.post("/v1/widgets", json={"name": sub}, headers=headers)
        ).status_code == 201
    assert await count(demo_app, widgets) == 2


async def test_same_key_in_flight_is_409(client: httpx.AsyncClient, writer: dict, demo_app) -> None:  # type: ignore[no-untyped-def]
    demo_app.state.gate = asyncio.Event()
    headers = {**writer, "Idempotency-Key": "key-3"}
    first = asyncio.create_task(client.post("/v1/widgets", json={"name": "slow"}, headers=headers))
    await asyncio.sleep(0.2)
    second = await client.post("/v1/widgets", json={"name": "slow"}, headers=headers)
    assert second.status_code == 409
    demo_app.state.gate.set()
    assert (await first).status_code == 201
    demo_app.state.gate = None
    assert await count(demo_app, widgets) == 1


async def test_failed_request_releases_the_key(
    client: httpx.AsyncClient, writer: dict, demo_app
) -> None:  # type: ignore[no-untyped-def]
    headers = {**writer, "Idempotency-Key": "key-4"}
    assert (
        await client.post("/v1/widgets", json={"name": "boom"}, headers=headers)
    ).status_code == 409
    # The domain error was not stored: the same key may be used again with a fixed body.
    retry = await client.post("/v1/widgets", json={"name": "boom"}, headers=headers)
    assert retry.status_code == 409
    assert "idempotent-replayed" not in retry.headers


async def test_invalid_idempotency_key_is_400(client: httpx.AsyncClient, writer: dict) -> None:
    response = await client.post(
        "/v1/widgets", json={"name": "a"}, headers={**writer, "Idempotency-Key": "x" * 201}
    )
    assert response.status_code == 400


async def test_events_are_recorded_with_the_change_only(
    client: httpx.AsyncClient, writer: dict, demo_app
) -> None:  # type: ignore[no-untyped-def]
    assert (await client.post("/v1/widgets", json={"name": "a"}, headers=writer)).status_code == 201
    failed = await client.post("/v1/widgets", json={"name": "rollback"}, headers=writer)
    assert failed.status_code == 500
    assert await count(demo_app, widgets) == 1
    assert await count(demo_app, outbox) == 1  # the rolled-back change left no event
    assert (await client.post("/v1/widgets", json={"name": "b"}, headers=writer)).status_code == 201

    feed = (await client.get("/v1/events?limit=1", headers=writer)).json()
    event = feed["items"][0]
    assert event["specversion"] == "1.0"
    assert event["type"] == "nl.samen.demo.widget.created"
    assert event["data"] == {"name": "a"}
    assert event["traceparent"].startswith("00-")
    following = (await client.get(feed["_links"]["next"]["href"], headers=writer)).json()
    assert [e["data"]["name"] for e in following["items"]] == ["b"]


async def test_feed_writers_commit_in_sequence_order_on_postgresql(demo_app) -> None:  # type: ignore[no-untyped-def]
    """A second writer waits for the first to commit, so `after=N` never skips an event."""
    import pytest

    from servicekit.events import record_event

    database = demo_app.state.database
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers itself (BEGIN IMMEDIATE); the lock is PostgreSQL's")
    order: list[str] = []
    first_inserted = asyncio.Event()

    async def writer(name: str, hold: float) -> None:
        async with database.sessionmaker() as session, session.begin():
            if name == "second":
                await first_inserted.wait()
            await record_event(session, outbox, type="t", source="/s", subject=name, data={})
            if name == "first":
                first_inserted.set()
                await asyncio.sleep(hold)
            order.append(f"{name} inserted")
        order.append(f"{name} committed")

    await asyncio.gather(writer("first", 0.3), writer("second", 0))
    assert order.index("first committed") < order.index("second inserted")
