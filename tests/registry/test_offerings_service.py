"""Offering and version rules without HTTP: only the supplier's own staff change them
(not another supplier, not the operator), changes need the current ETag, a version label
is registered once per offering, support ends after release (service functions on a real
session)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from registry.offerings import service
from registry.offerings.schemas import OfferingCreate, OfferingPatch, VersionCreate, VersionPatch
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from servicekit.http import IfMatch

KVK, OTHER_KVK = "90000001", "90000002"
STAFF = Principal(subject="supplier-staff", org_id=KVK, org_type="supplier")
OTHER = Principal(subject="rival-staff", org_id=OTHER_KVK, org_type="supplier")
OPERATOR = Principal(subject="vng-admin", org_id="00000001009876543000", org_type="operator")


async def _offering(registry_db: Database, make_org: Any, make_facility: Any) -> Any:
    await make_org("supplier", kvkNumber=KVK)
    await make_org("supplier", kvkNumber=OTHER_KVK)
    facility = uuid.UUID((await make_facility())["id"])
    body = OfferingCreate(facility_id=facility, name="Zaaksysteem", price_model="subscription")
    async with registry_db.sessionmaker() as session:
        return await service.create_offering(session, STAFF, body)  # the caller's supplier


async def test_only_the_suppliers_own_staff_change_an_offering(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
    history: Any,
) -> None:  # fmt: skip
    offering, etag = await _offering(registry_db, make_org, make_facility)
    patch = OfferingPatch(name="Zaaksysteem Plus")
    for stranger in (OTHER, OPERATOR):
        async with registry_db.sessionmaker() as session:
            with pytest.raises(Forbidden):
                await service.update_offering(session, stranger, offering.id, patch, IfMatch(etag))
    async with registry_db.sessionmaker() as session:
        with pytest.raises(PreconditionRequired):
            await service.update_offering(session, STAFF, offering.id, patch, IfMatch(None))
    async with registry_db.sessionmaker() as session:
        with pytest.raises(PreconditionFailed):
            await service.update_offering(session, STAFF, offering.id, patch, IfMatch('"old"'))
    async with registry_db.sessionmaker() as session:
        out, new_etag = await service.update_offering(
            session, STAFF, offering.id, patch, IfMatch(etag)
        )
    assert (out.name, out.price_model) == ("Zaaksysteem Plus", "subscription")
    assert new_etag != etag
    assert (await service.get_offering(registry_db, offering.id)) == (out, new_etag)
    assert await history(offering.id) == [("created", KVK), ("updated", KVK)]
    # Another supplier cannot register an offering in this supplier's name either.
    body = OfferingCreate(supplier_id=offering.supplier_id, facility_id=offering.facility_id,
                          name="Namaak", price_model="free")  # fmt: skip
    async with registry_db.sessionmaker() as session:
        with pytest.raises(Forbidden):
            await service.create_offering(session, OTHER, body)


async def test_versions_are_unique_per_offering_and_support_ends_after_release(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
) -> None:  # fmt: skip
    offering, _ = await _offering(registry_db, make_org, make_facility)

    async def add(label: str, **dates: date) -> Any:
        body = VersionCreate(version=label, release_date=dates.pop("release", date(2025, 1, 1)),
                             **dates)  # fmt: skip
        async with registry_db.sessionmaker() as session:
            return await service.create_version(session, STAFF, offering.id, body)

    first, etag = await add("2.4.0", end_of_support_date=date(2027, 1, 1))
    with pytest.raises(Conflict) as twice:
        await add("2.4.0")
    assert (twice.value.slug, twice.value.extra["existingId"]) == ("duplicate", str(first.id))
    with pytest.raises(BadRequest) as early:
        await add("2.5.0", release=date(2026, 1, 1), end_of_support_date=date(2025, 12, 31))
    assert early.value.extra["invalidParams"][0]["name"] == "endOfSupportDate"
    # A patch is checked against the stored release date too.
    async with registry_db.sessionmaker() as session:
        with pytest.raises(BadRequest):
            await service.update_version(session, STAFF, offering.id, first.id,
                VersionPatch(end_of_support_date=date(2024, 12, 31)), IfMatch(etag))  # fmt: skip
    async with registry_db.sessionmaker() as session:
        with pytest.raises(Forbidden):
            await service.update_version(session, OTHER, offering.id, first.id,
                VersionPatch(notes="x"), IfMatch(etag))  # fmt: skip
    async with registry_db.sessionmaker() as session:
        out, new_etag = await service.update_version(session, STAFF, offering.id, first.id,
            VersionPatch(end_of_support_date=date(2028, 1, 1)), IfMatch(etag))  # fmt: skip
    assert (out.end_of_support_date, new_etag != etag) == (date(2028, 1, 1), True)
    async with registry_db.sessionmaker() as session:
        with pytest.raises(NotFound):  # a version is only found under its own offering
            await service.get_version(session, uuid.uuid4(), first.id)
