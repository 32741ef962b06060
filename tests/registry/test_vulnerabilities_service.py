"""Vulnerability and exposure rules without HTTP: recorded by the offering's supplier or
the operator, once per CVE and offering, for versions of that offering; each municipality
that becomes exposed (or no longer is) gets an event addressed to it; a withdrawn one
takes no changes; a municipal merger passes exposure to the successor; exposure is shown to the municipality itself (only its own), the
offering's supplier and the operator (service functions on a real session)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from registry.db import event_outbox
from registry.mergers.schemas import MergerCreate
from registry.mergers.service import merge
from registry.offerings.schemas import OfferingCreate, VersionCreate
from registry.offerings.service import create_offering, create_version
from registry.usages.schemas import UsageCreate
from registry.usages.service import create_usage
from registry.vulnerabilities import service
from registry.vulnerabilities.schemas import VulnerabilityCreate, VulnerabilityPatch
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, Forbidden
from servicekit.http import IfMatch
from servicekit.pagination import PageParams

KVK, UTRECHT_OIN, AMERSFOORT_OIN = "90000001", "00000001001234567000", "00000001007654321000"
SUPPLIER = Principal(subject="supplier-staff", org_id=KVK, org_type="supplier")
RIVAL = Principal(subject="rival-staff", org_id="90000002", org_type="supplier")
OPERATOR = Principal(subject="vng-admin", org_id="00000001009876543000", org_type="operator")
READER = Principal(subject="reader", scopes=frozenset({"registry:read", "registry:exposure"}))
PAGE = PageParams(page=1, page_size=20)


def staff(oin: str) -> Principal:
    return Principal(subject=f"staff-{oin[-7:]}", org_id=oin, org_type="municipality")


async def _landscape(db: Database, make_org: Any, make_facility: Any) -> dict[str, Any]:
    """An offering with versions 1 and 2; Utrecht runs 1, Amersfoort runs 2."""
    await make_org("supplier", kvkNumber=KVK)
    await make_org("supplier", kvkNumber=RIVAL.org_id)
    facility = uuid.UUID((await make_facility())["id"])
    async with db.sessionmaker() as session:
        offering, _ = await create_offering(session, SUPPLIER, OfferingCreate(
            facility_id=facility, name="Zaaksysteem", price_model="free"))  # fmt: skip
    made: dict[str, Any] = {"offering": offering}
    for label, name, oin in (
        ("1.0", "Utrecht", UTRECHT_OIN),
        ("2.0", "Amersfoort", AMERSFOORT_OIN),
    ):
        async with db.sessionmaker() as session:
            version, _ = await create_version(session, SUPPLIER, offering.id,
                VersionCreate(version=label, release_date=date(2025, 1, 1)))  # fmt: skip
        municipality = uuid.UUID((await make_org("municipality", name=name, oin=oin))["id"])
        async with db.sessionmaker() as session:
            await create_usage(session, staff(oin), UsageCreate(municipality_id=municipality,
                facility_id=facility, offering_id=offering.id, version_id=version.id))  # fmt: skip
        made[oin] = municipality
        made[label] = version.id
    return made


async def _exposure_events(db: Database) -> list[tuple[str, str]]:
    query = select(event_outbox.c.type, event_outbox.c.data).order_by(event_outbox.c.sequence)
    async with db.sessionmaker() as session:
        rows = (await session.execute(query)).all()
    prefix = "nl.samen.registry.exposure."
    return [(t.removeprefix(prefix), json.loads(d)["audience"]) for t, d in rows
            if t.startswith(prefix)]  # fmt: skip


async def test_recording_announces_exposure_to_each_municipality(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
) -> None:  # fmt: skip
    made = await _landscape(registry_db, make_org, make_facility)
    offering = made["offering"]

    async def record(principal: Principal, versions: list[uuid.UUID]) -> Any:
        body = VulnerabilityCreate(offering_id=offering.id, cve_id="cve-2099-0001",
            cvss_score=Decimal("9.8"), cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            description="Remote code execution", affected_version_ids=versions)  # fmt: skip
        async with registry_db.sessionmaker() as session:
            return await service.create_vulnerability(session, principal, body)

    with pytest.raises(Forbidden):
        await record(RIVAL, [made["1.0"]])
    with pytest.raises(BadRequest):  # not a version of this offering
        await record(SUPPLIER, [made["1.0"], uuid.uuid4()])
    vulnerability, etag = await record(SUPPLIER, [made["1.0"], made["2.0"]])
    assert (vulnerability.cve_id, vulnerability.severity) == ("CVE-2099-0001", "critical")
    with pytest.raises(Conflict) as twice:
        await record(OPERATOR, [made["1.0"]])
    assert twice.value.extra["existingId"] == str(vulnerability.id)
    assert sorted(await _exposure_events(registry_db)) == sorted(
        [("detected", UTRECHT_OIN), ("detected", AMERSFOORT_OIN)])  # fmt: skip

    async with registry_db.sessionmaker() as session:  # version 2.0 turns out unaffected
        _, etag = await service.update_vulnerability(session, OPERATOR, vulnerability.id,
            VulnerabilityPatch(affected_version_ids=[made["1.0"]]), IfMatch(etag))  # fmt: skip
    async with registry_db.sessionmaker() as session:
        withdrawn, etag = await service.withdraw_vulnerability(
            session, SUPPLIER, vulnerability.id, "not exploitable", IfMatch(etag)
        )
    assert withdrawn.status == "withdrawn"
    assert (await _exposure_events(registry_db))[2:] == [
        ("ended", AMERSFOORT_OIN), ("ended", UTRECHT_OIN)]  # fmt: skip
    async with registry_db.sessionmaker() as session:
        with pytest.raises(Conflict) as gone:
            await service.update_vulnerability(session, SUPPLIER, vulnerability.id,
                VulnerabilityPatch(cvss_score=Decimal("1.0")), IfMatch(etag))  # fmt: skip
    assert gone.value.slug == "withdrawn"
    # A CVE withdrawn may be recorded anew.
    assert (await record(SUPPLIER, [made["2.0"]]))[0].id != vulnerability.id


async def test_exposure_is_shown_to_the_municipality_supplier_and_operator_only(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
) -> None:  # fmt: skip
    made = await _landscape(registry_db, make_org, make_facility)
    body = VulnerabilityCreate(offering_id=made["offering"].id, cve_id="CVE-2099-0002",
        cvss_score=Decimal("6.5"), cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N",
        description="Information leak", affected_version_ids=[made["1.0"], made["2.0"]])  # fmt: skip
    async with registry_db.sessionmaker() as session:
        vulnerability, _ = await service.create_vulnerability(session, SUPPLIER, body)

    async def of_vulnerability(principal: Principal) -> set[str]:
        async with registry_db.sessionmaker() as session:
            rows, total = await service.exposures_of_vulnerability(
                session, principal, vulnerability.id, PAGE
            )
        assert total == len(rows)
        return {r.municipality_name for r in rows}

    assert await of_vulnerability(SUPPLIER) == {"Utrecht", "Amersfoort"}
    assert await of_vulnerability(OPERATOR) == {"Utrecht", "Amersfoort"}
    assert await of_vulnerability(staff(UTRECHT_OIN)) == {"Utrecht"}
    for outsider in (RIVAL, READER):
        with pytest.raises(Forbidden):
            await of_vulnerability(outsider)
    async with registry_db.sessionmaker() as session:
        with pytest.raises(Forbidden):  # Utrecht does not see Amersfoort's exposure
            await service.exposures_of_municipality(
                session, staff(UTRECHT_OIN), made[AMERSFOORT_OIN], PAGE
            )
        rows, total = await service.exposures_of_municipality(
            session, staff(AMERSFOORT_OIN), made[AMERSFOORT_OIN], PAGE
        )
    assert (total, rows[0].version, rows[0].severity) == (1, "2.0", "medium")


async def test_a_merger_passes_exposure_to_the_successor(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
) -> None:  # fmt: skip
    made = await _landscape(registry_db, make_org, make_facility)
    cves = {"CVE-2099-0002": [made["1.0"]], "CVE-2099-0003": [made["1.0"], made["2.0"]]}
    for cve, versions in cves.items():
        async with registry_db.sessionmaker() as session:
            await service.create_vulnerability(session, SUPPLIER, VulnerabilityCreate(
                offering_id=made["offering"].id, cve_id=cve, cvss_score=Decimal("7.5"),
                cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                description="Data exposure", affected_version_ids=versions))  # fmt: skip

    async def exposure_events() -> list[tuple[str, str, str]]:
        query = select(event_outbox.c.type, event_outbox.c.data).order_by(event_outbox.c.sequence)
        async with registry_db.sessionmaker() as session:
            rows = (await session.execute(query)).all()
        return [(t.rsplit(".", 1)[1], json.loads(d)["cveId"], json.loads(d)["audience"])
                for t, d in rows if ".exposure." in t]  # fmt: skip

    before = await exposure_events()
    assert sorted(before) == sorted([("detected", "CVE-2099-0002", UTRECHT_OIN),
        ("detected", "CVE-2099-0003", UTRECHT_OIN), ("detected", "CVE-2099-0003", AMERSFOORT_OIN)])  # fmt: skip
    body = MergerCreate.model_validate({"predecessorIds": [made[UTRECHT_OIN]],
        "successorId": made[AMERSFOORT_OIN], "effectiveDate": utcnow().date().isoformat()})  # fmt: skip
    async with registry_db.sessionmaker() as session:
        await merge(session, OPERATOR, body, dry_run=True)
    assert await exposure_events() == before  # a preview announces nothing
    async with registry_db.sessionmaker() as session:
        await merge(session, OPERATOR, body, dry_run=False)
    # Amersfoort now runs version 1.0 too: newly exposed to the CVE of 1.0 only; Utrecht,
    # merged away, is exposed to neither.
    assert sorted((await exposure_events())[len(before):]) == sorted([
        ("detected", "CVE-2099-0002", AMERSFOORT_OIN), ("ended", "CVE-2099-0002", UTRECHT_OIN),
        ("ended", "CVE-2099-0003", UTRECHT_OIN)])  # fmt: skip
    async with registry_db.sessionmaker() as session:
        rows, total = await service.exposures_of_municipality(
            session, OPERATOR, made[AMERSFOORT_OIN], PAGE
        )
    assert total == 3
    assert {r.cve_id for r in rows} == set(cves)
