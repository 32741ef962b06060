"""Applying a registry merger to enrollments, without HTTP: only the operator, only a
merger the registry knows, never half (a successor without an OIN moves nothing), once
(a second call answers the first record); a fold revives the successor's withdrawn
enrollment, and each change leaves its history row (service function on a real session,
the registry faked at the HTTP layer)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from procurement.enrollments.models import Enrollment
from procurement.history import HistoryEntry
from procurement.mergers import service
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound
from servicekit.testing import TestIssuer

from .conftest import MUNICIPALITIES, FakeRegistry, mandate, municipality_headers, open_tender

EEMNES, SOEST = (next(m for m in MUNICIPALITIES if m["cbsCode"] == c) for c in ("GM0317", "GM0342"))
OPERATOR = Principal(subject="vng-admin", org_id="00000001009876543000", org_type="operator")


async def _enroll(client: httpx.AsyncClient, issuer: TestIssuer, tender: dict[str, Any],
                  who: dict[str, Any]) -> tuple[uuid.UUID, str]:  # fmt: skip
    body = {"lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 5,
                      "desiredStartDate": "2030-03-01"}], "mandate": mandate()}  # fmt: skip
    r = await client.post(f"/v1/tenders/{tender['id']}/enrollments", json=body,
                          headers=municipality_headers(issuer, who))  # fmt: skip
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"]), r.headers["etag"]


def _merger(registry: FakeRegistry) -> uuid.UUID:
    merger_id = uuid.uuid4()
    registry.mergers[str(merger_id)] = {"id": str(merger_id), "predecessorIds": [EEMNES["id"]],
                                        "successorId": SOEST["id"], "effectiveDate": "2026-01-01"}  # fmt: skip
    return merger_id


async def _apply(app: Any, database: Database, principal: Principal, merger_id: uuid.UUID,
                 *, dry_run: bool = False) -> Any:  # fmt: skip
    async with database.sessionmaker() as session:
        return await service.apply(session, app.state.registry, principal, merger_id,
                                   datetime.now(UTC), dry_run=dry_run)  # fmt: skip


async def _state(database: Database, enrollment_id: uuid.UUID) -> tuple[str, str]:
    async with database.sessionmaker() as session:
        row = await session.get(Enrollment, enrollment_id)
        assert row is not None
        return row.municipality_oin, row.status


async def test_operator_known_merger_and_never_half(
    client: httpx.AsyncClient, app: Any, database: Database, registry: FakeRegistry,
    issuer: TestIssuer, lead_headers: dict[str, str],
) -> None:  # fmt: skip
    tender = await open_tender(client, registry, lead_headers)
    eemnes, _ = await _enroll(client, issuer, tender, EEMNES)
    merger_id = _merger(registry)
    with pytest.raises(Forbidden):
        await _apply(app, database, Principal(subject="s", org_id=SOEST["oin"],
                                              org_type="municipality"), merger_id)  # fmt: skip
    with pytest.raises(BadRequest):
        await _apply(app, database, OPERATOR, uuid.uuid4())
    registry.organisations[SOEST["id"]] = {**SOEST, "oin": None}
    with pytest.raises(Conflict) as no_oin:
        await _apply(app, database, OPERATOR, merger_id)
    assert no_oin.value.slug == "successor-without-oin"
    assert await _state(database, eemnes) == (EEMNES["oin"], "enrolled")
    async with database.sessionmaker() as session:
        with pytest.raises(NotFound):  # nothing was recorded
            await service.get(session, merger_id)


async def test_a_fold_revives_a_withdrawn_enrollment_and_applies_once(
    client: httpx.AsyncClient, app: Any, database: Database, registry: FakeRegistry,
    issuer: TestIssuer, lead_headers: dict[str, str],
) -> None:  # fmt: skip
    tender = await open_tender(client, registry, lead_headers)
    eemnes, _ = await _enroll(client, issuer, tender, EEMNES)
    soest, etag = await _enroll(client, issuer, tender, SOEST)
    r = await client.post(f"/v1/tenders/{tender['id']}/enrollments/{soest}/withdrawal",
                          headers={**municipality_headers(issuer, SOEST), "If-Match": etag})  # fmt: skip
    assert r.json()["status"] == "withdrawn", r.text
    merger_id = _merger(registry)

    preview, _ = await _apply(app, database, OPERATOR, merger_id, dry_run=True)
    assert (preview.combined_enrollment_ids, preview.applied_by) == ([eemnes], None)
    assert await _state(database, soest) == (SOEST["oin"], "withdrawn")  # preview: unchanged

    applied, first = await _apply(app, database, OPERATOR, merger_id)
    assert (first, applied.combined_enrollment_ids, applied.applied_by) == (
        True, [eemnes], "vng-admin")  # fmt: skip
    assert await _state(database, eemnes) == (EEMNES["oin"], "merged")
    assert await _state(database, soest) == (SOEST["oin"], "enrolled")
    async with database.sessionmaker() as session:
        actions = (await session.execute(
            select(HistoryEntry.entity_id, HistoryEntry.action)
            .where(HistoryEntry.entity == "enrollment",
                   col(HistoryEntry.action).in_(["combined", "updated"])))).all()  # fmt: skip
    assert sorted(actions) == sorted([(eemnes, "combined"), (soest, "updated")])
    again, second = await _apply(app, database, OPERATOR, merger_id)
    assert (second, again) == (False, applied)


async def test_concurrent_applies_of_one_merger_apply_it_once(
    client: httpx.AsyncClient, app: Any, database: Database, registry: FakeRegistry,
    issuer: TestIssuer, lead_headers: dict[str, str],
) -> None:  # fmt: skip
    tender = await open_tender(client, registry, lead_headers)
    await _enroll(client, issuer, tender, EEMNES)
    merger_id = _merger(registry)
    results = await asyncio.gather(*(_apply(app, database, OPERATOR, merger_id) for _ in range(2)))
    assert sorted(applied for _, applied in results) == [False, True]
    assert results[0][0] == results[1][0]


async def test_a_merged_enrollment_is_never_enrolled_again(
    client: httpx.AsyncClient, database: Database, registry: FakeRegistry,
    issuer: TestIssuer, lead_headers: dict[str, str],
) -> None:  # fmt: skip
    """Even without the merger's record (only the row's status says it merged)."""
    tender = await open_tender(client, registry, lead_headers)
    eemnes, _ = await _enroll(client, issuer, tender, EEMNES)
    async with database.sessionmaker() as session, session.begin():
        row = await session.get(Enrollment, eemnes)
        assert row is not None
        row.status = "merged"
    body = {"lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 5,
                      "desiredStartDate": "2030-03-01"}], "mandate": mandate()}  # fmt: skip
    r = await client.post(f"/v1/tenders/{tender['id']}/enrollments", json=body,
                          headers=municipality_headers(issuer, EEMNES))  # fmt: skip
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/organisation-ended")
    assert await _state(database, eemnes) == (EEMNES["oin"], "merged")
