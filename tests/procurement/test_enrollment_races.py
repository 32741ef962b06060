"""Concurrent re-enrollments after a withdrawal: the one row is taken by exactly one
(on PostgreSQL the row is locked before it is read; SQLite serialises writers)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from procurement.enrollments.repository import EnrollmentRepository
from procurement.history import HistoryEntry
from servicekit.db import Database
from servicekit.testing import TestIssuer

from .conftest import MUNICIPALITIES, FakeRegistry, mandate, municipality_headers, open_tender

UTRECHT = next(m for m in MUNICIPALITIES if m["cbsCode"] == "GM0344")


async def test_concurrent_re_enrollments_take_the_row_once(
    client: httpx.AsyncClient, database: Database, registry: FakeRegistry,
    issuer: TestIssuer, lead_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Each reader of the existing row lingers after reading it, so that without a lock
    # the others read the same withdrawn row meanwhile.
    find = EnrollmentRepository.find

    async def slow_find(self: EnrollmentRepository, *args: Any, **kwargs: Any) -> Any:
        found = await find(self, *args, **kwargs)
        await asyncio.sleep(0.2)
        return found

    monkeypatch.setattr(EnrollmentRepository, "find", slow_find)
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    headers = municipality_headers(issuer, UTRECHT)

    def body(volume: int) -> dict[str, Any]:
        return {"lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": volume,
                          "desiredStartDate": "2030-02-01"}], "mandate": mandate()}  # fmt: skip

    first = await client.post(url, json=body(1), headers=headers)
    assert first.status_code == 201, first.text
    eid = first.json()["id"]
    withdrawn = await client.post(f"{url}/{eid}/withdrawal",
                                  headers={**headers, "If-Match": first.headers["etag"]})  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text

    responses = await asyncio.gather(*(client.post(url, json=body(v), headers=headers)
                                       for v in range(10, 16)))  # fmt: skip
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 5, [r.text for r in responses]
    (winner,) = [r.json() for r in responses if r.status_code == 201]
    for loser in (r.json() for r in responses if r.status_code == 409):
        assert loser["enrollmentId"] == eid
    current = (await client.get(f"{url}/{eid}", headers=headers)).json()
    assert current["lots"] == winner["lots"]
    assert current["version"] == winner["version"]
    async with database.sessionmaker() as session:
        actions = (await session.execute(
            select(HistoryEntry.action).where(col(HistoryEntry.entity_id) == uuid.UUID(eid),
                                              col(HistoryEntry.action) == "re-enrolled"))).all()  # fmt: skip
    assert len(actions) == 1
