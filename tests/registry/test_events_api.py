"""Change feed: every change as a CloudEvent, in order, resumable; history rows; failed
writes leave neither."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from registry.changes.models import HistoryEntry
from servicekit.db import Database

Maker = Any


async def _feed(
    client: httpx.AsyncClient, tokens: Any, after: int = 0, limit: int = 100
) -> dict[str, Any]:
    r = await client.get(f"/v1/events?after={after}&limit={limit}", headers=tokens.reader())
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_feed_order_and_resume(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    org = await make_org("operator")
    facility = await make_facility(slug="ibd")
    r = await client.post(
        f"/v1/facilities/{facility['id']}/stage-transitions",
        json={"toStage": "pilot", "reason": "start"},
        headers=tokens.operator(),
    )
    etag = (await client.get(f"/v1/facilities/{facility['id']}", headers=tokens.reader())).headers[
        "etag"
    ]
    r = await client.patch(
        f"/v1/facilities/{facility['id']}",
        json={"name": "IBD"},
        headers={**tokens.operator(), "If-Match": etag},
    )
    assert r.status_code == 200
    feed = await _feed(client, tokens)
    events = feed["items"]
    assert [e["type"] for e in events] == [
        "nl.samen.registry.organisation.created",
        "nl.samen.registry.facility.created",
        "nl.samen.registry.facility.stage-changed",
        "nl.samen.registry.facility.updated",
    ]
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(sequences)
    assert len(set(e["id"] for e in events)) == 4
    first = events[0]
    assert first["specversion"] == "1.0"
    assert first["source"] == "/api/registry/v1"
    assert first["subject"] == f"organisations/{org['id']}"
    # Each subject is the resource's path in the API (``facilities/…``, not ``facilitys``).
    facility_id = events[1]["data"]["id"]
    assert {e["subject"] for e in events[1:]} == {f"facilities/{facility_id}"}
    assert (
        await client.get(f"/v1/{events[1]['subject']}", headers=tokens.reader())
    ).status_code == 200
    assert first["data"]["id"] == org["id"]
    assert events[2]["data"]["stage"] == "pilot"
    assert events[2]["data"]["fromStage"] == "initiative"
    assert events[3]["data"]["name"] == "IBD"

    page = await _feed(client, tokens, limit=2)
    assert [e["sequence"] for e in page["items"]] == sequences[:2]
    assert page["_links"]["next"]
    resumed = await _feed(client, tokens, after=page["items"][-1]["sequence"])
    assert [e["sequence"] for e in resumed["items"]] == sequences[2:]
    assert (await _feed(client, tokens, after=sequences[-1]))["items"] == []
    r = await client.get("/v1/events?after=-1", headers=tokens.reader())
    assert r.status_code == 400
    assert (await client.get("/v1/events")).status_code == 401


async def test_failed_writes_leave_no_event_or_history(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, registry_db: Database
) -> None:
    facility = await make_facility(slug="taken")
    before = await _feed(client, tokens)
    async with registry_db.sessionmaker() as session:
        history_before = (
            await session.execute(select(func.count()).select_from(HistoryEntry))
        ).scalar_one()
    attempts = [
        client.post("/v1/facilities", json={"slug": "taken", "name": "x", "kind": "service", "theme": "t"},
                    headers=tokens.operator()),
        client.post(f"/v1/facilities/{facility['id']}/stage-transitions",
                    json={"toStage": "initiative", "reason": "back"}, headers=tokens.operator()),
        client.patch(f"/v1/facilities/{facility['id']}", json={"name": "y"},
                     headers={**tokens.operator(), "If-Match": '"old"'}),
    ]  # fmt: skip
    for attempt in attempts:
        r = await attempt
        assert r.status_code in (409, 412)
    after = await _feed(client, tokens)
    assert after["items"] == before["items"]
    async with registry_db.sessionmaker() as session:
        history_after = (
            await session.execute(select(func.count()).select_from(HistoryEntry))
        ).scalar_one()
    assert history_after == history_before


async def test_history_records_actor(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, registry_db: Database
) -> None:
    facility = await make_facility()
    async with registry_db.sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    select(HistoryEntry).where(HistoryEntry.entity_type == "facility")
                )
            )
            .scalars()
            .all()
        )
    assert len(rows) == 1
    assert str(rows[0].entity_id) == facility["id"]
    assert rows[0].action == "created"
    assert rows[0].actor == "vng-admin"
    assert rows[0].actor_org == tokens.OPERATOR_OIN
    assert rows[0].at.tzinfo is not None
