"""Integration rules without HTTP: recorded by the source offering's supplier or the
operator (the target's supplier may not), once per source, target and kind, status only
moves forward, changes need the current ETag; a municipality's landscape holds only the
live integrations between offerings it uses (service functions on a real session)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from registry.integrations import service
from registry.integrations.schemas import IntegrationCreate, IntegrationPatch
from registry.offerings.schemas import OfferingCreate
from registry.offerings.service import create_offering
from registry.usages.schemas import UsageCreate
from registry.usages.service import create_usage
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, Forbidden, PreconditionFailed
from servicekit.http import IfMatch

SOURCE_KVK, TARGET_KVK = "90000001", "90000002"
UTRECHT_OIN = "00000001001234567000"
SOURCE = Principal(subject="source-staff", org_id=SOURCE_KVK, org_type="supplier")
TARGET = Principal(subject="target-staff", org_id=TARGET_KVK, org_type="supplier")
OPERATOR = Principal(subject="vng-admin", org_id="00000001009876543000", org_type="operator")
UTRECHT = Principal(subject="civil-servant", org_id=UTRECHT_OIN, org_type="municipality")


async def _offerings(db: Database, make_org: Any, make_facility: Any, n: int) -> list[Any]:
    await make_org("supplier", kvkNumber=SOURCE_KVK)
    await make_org("supplier", kvkNumber=TARGET_KVK)
    made = []
    for i in range(n):
        facility = uuid.UUID((await make_facility())["id"])
        staff = SOURCE if i == 0 else TARGET
        body = OfferingCreate(facility_id=facility, name=f"Offering {i}", price_model="free")
        async with db.sessionmaker() as session:
            made.append((await create_offering(session, staff, body))[0])
    return made


async def _create(db: Database, principal: Principal, source: Any, target: Any) -> Any:
    body = IntegrationCreate(source_offering_id=source.id, target_offering_id=target.id,
                             kind="api", direction="one-way", status="planned")  # fmt: skip
    async with db.sessionmaker() as session:
        return await service.create_integration(session, principal, body)


async def test_the_source_supplier_records_it_once_and_status_moves_forward(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
    history: Any,
) -> None:  # fmt: skip
    source, target = await _offerings(registry_db, make_org, make_facility, 2)
    with pytest.raises(Forbidden):
        await _create(registry_db, TARGET, source, target)
    with pytest.raises(BadRequest):
        await _create(registry_db, SOURCE, source, source)
    made, etag = await _create(registry_db, SOURCE, source, target)
    with pytest.raises(Conflict) as twice:
        await _create(registry_db, OPERATOR, source, target)
    assert twice.value.extra["existingId"] == str(made.id)

    async def update(principal: Principal, patch: IntegrationPatch, if_match: str) -> Any:
        async with registry_db.sessionmaker() as session:
            return await service.update_integration(
                session, principal, made.id, patch, IfMatch(if_match)
            )

    with pytest.raises(Forbidden):
        await update(TARGET, IntegrationPatch(status="active"), etag)
    with pytest.raises(PreconditionFailed):
        await update(SOURCE, IntegrationPatch(status="active"), '"stale"')
    active, etag = await update(OPERATOR, IntegrationPatch(status="active"), etag)
    assert active.status == "active"
    with pytest.raises(Conflict) as back:
        await update(SOURCE, IntegrationPatch(status="planned"), etag)
    assert (back.value.slug, back.value.extra["currentStatus"]) == (
        "illegal-status-transition", "active")  # fmt: skip
    assert await history(made.id) == [("created", SOURCE_KVK), ("updated", OPERATOR.org_id)]


async def test_the_landscape_shows_live_integrations_between_used_offerings(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
) -> None:  # fmt: skip
    a, b, c = await _offerings(registry_db, make_org, make_facility, 3)
    utrecht = uuid.UUID((await make_org("municipality", oin=UTRECHT_OIN))["id"])
    for offering in (a, b):
        body = UsageCreate(municipality_id=utrecht, facility_id=offering.facility_id,
                           offering_id=offering.id)  # fmt: skip
        async with registry_db.sessionmaker() as session:
            await create_usage(session, UTRECHT, body)
    used, _ = await _create(registry_db, SOURCE, a, b)
    ended, etag = await _create(registry_db, TARGET, b, a)
    await _create(registry_db, SOURCE, a, c)  # c is not used by Utrecht
    async with registry_db.sessionmaker() as session:
        await service.update_integration(
            session, TARGET, ended.id, IntegrationPatch(status="ended"), IfMatch(etag)
        )
    async with registry_db.sessionmaker() as session:
        landscape = await service.landscape(session, utrecht)
    assert {o.offering_id for o in landscape.offerings} == {a.id, b.id}
    assert [i.id for i in landscape.integrations] == [used.id]
    async with registry_db.sessionmaker() as session:
        with pytest.raises(BadRequest):  # a supplier has no landscape
            await service.landscape(session, a.supplier_id)
