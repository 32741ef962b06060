"""Notice deadlines as decision moments: an event when a deadline is 180, 90 and 30 days
away, exactly once each, also with two schedulers at once (two databases handles, as two
replicas have; on PostgreSQL they really run concurrently)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx

from registry.notices.service import crossed, scan
from servicekit.db import Database

Maker = Any
TODAY = date.today()


def test_thresholds_crossed() -> None:
    d = TODAY
    assert crossed(d + timedelta(days=181), d) == []
    assert crossed(d + timedelta(days=180), d) == [180]
    assert crossed(d + timedelta(days=90), d) == [180, 90]
    assert crossed(d + timedelta(days=0), d) == [180, 90, 30]
    assert crossed(d - timedelta(days=1), d) == []


async def _feed(client: httpx.AsyncClient, tokens: Any) -> list[dict[str, Any]]:
    items = (await client.get("/v1/events?limit=500", headers=tokens.contracts_reader())).json()[
        "items"
    ]
    return [e for e in items if e["type"].endswith("usage.notice-deadline-approaching")]


async def test_each_threshold_once_even_with_two_schedulers(
    client: httpx.AsyncClient, registry_db: Database, tokens: Any, make_org: Maker,
    make_facility: Maker,
) -> None:  # fmt: skip
    utrecht = await make_org("municipality", oin=tokens.UTRECHT_OIN)
    usages = {}
    for days in (200, 170, 85, 20):
        facility = await make_facility()
        end = TODAY + timedelta(days=days)
        body = {"municipalityId": utrecht["id"], "facilityId": facility["id"], "status": "active",
                "contractEndDate": end.isoformat(), "noticePeriodMonths": 0}  # fmt: skip
        r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
        assert r.status_code == 201, r.text
        usages[days] = r.json()
    # An ended contract and one without an end date are never announced.
    facility = await make_facility()
    body = {"municipalityId": utrecht["id"], "facilityId": facility["id"], "status": "active"}
    assert (
        await client.post("/v1/usages", json=body, headers=tokens.municipality())
    ).status_code == 201

    replica = Database(registry_db.url)
    try:
        results = await asyncio.gather(scan(registry_db, TODAY), scan(replica, TODAY))
        assert sum(results) == 3
        events = await _feed(client, tokens)
        assert sorted((e["data"]["daysLeft"], e["data"]["thresholdDays"]) for e in events) == [
            (20, 30), (85, 90), (170, 180)]  # fmt: skip
        assert await scan(replica, TODAY) == 0
        # 80 days on: 200 → 120 days left (180), 170 → 90 (90), 85 → 5 (30); 20 passed.
        later = TODAY + timedelta(days=80)
        results = await asyncio.gather(scan(registry_db, later), scan(replica, later))
        assert sum(results) == 3
        later = TODAY + timedelta(days=60)  # back in time changes nothing already said
        assert await scan(registry_db, later) == 0
    finally:
        await replica.dispose()
    events = await _feed(client, tokens)
    assert len(events) == 6
    assert events[0]["subject"].startswith("usages/")
    first = usages[20]
    alerts = (
        await client.get(
            f"/v1/usages/{first['id']}/notice-alerts", headers=tokens.contracts_reader()
        )
    ).json()
    assert sorted((a["thresholdDays"], a["announced"]) for a in alerts["items"]) == [
        (30, True), (90, False), (180, False)]  # fmt: skip

    # A new contract end is a new deadline: announced again.
    url = f"/v1/usages/{first['id']}"
    etag = (await client.get(url, headers=tokens.contracts_reader())).headers["etag"]
    new_end = (TODAY + timedelta(days=25)).isoformat()
    r = await client.patch(url, json={"contractEndDate": new_end},
                           headers={**tokens.municipality(), "If-Match": etag})  # fmt: skip
    assert r.status_code == 200
    assert await scan(registry_db, TODAY) == 1
    r = await client.get("/v1/usages/00000000-0000-0000-0000-000000000000/notice-alerts",
                         headers=tokens.contracts_reader())  # fmt: skip
    assert r.status_code == 404
