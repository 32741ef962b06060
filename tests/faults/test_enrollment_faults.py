"""Registry down during enrollment (the fault suite's case, with the behaviour the
procurement issue defines), through the gateway and the real processes: with the registry
process stopped, an enrollment that needs it (the start date is proposed from the
municipality's registry contract) is a 503 problem+json with Retry-After and stores
nothing; one with an explicit start date is accepted; once the registry is back, the first
enrollment succeeds with the proposed date — no restart of procurement or the gateway."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from faultkit import Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# Fictional demo identifiers of `python -m registry seed` (demo_organisations.json,
# catalogue.json: Utrecht's telephony contract ends on 2027-06-30).
VNG_OIN = "00000001009876543000"
UTRECHT_OIN = "00000001001234567000"
AMERSFOORT_OIN = "00000001007654321000"
FACILITY_SLUG = "gemeentelijke-telecommunicatie"
RECOVERY_BOUND = 5.0  # seconds from the registry being live to a served enrollment


def municipality(p: Platform, oin: str, sub: str) -> dict[str, str]:
    return p.issuer.headers(
        sub=sub,
        scopes=["procurement:read", "procurement:enroll"],
        org_id=oin,
        org_type="municipality",
        lifetime=3600,
    )


def enrollment(lot_id: str, start: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"lotId": lot_id, "expectedVolume": 4000}
    if start:
        line["desiredStartDate"] = start
    return {
        "lots": [line],
        "mandate": {
            "signerName": "S. Dijksma",
            "signerRole": "burgemeester",
            "signedDate": date.today().isoformat(),
            "authorisesLeadParty": True,
        },
    }


async def open_tender(p: Platform, client: httpx.AsyncClient) -> dict[str, Any]:
    """A published tender with one lot, led by VNG, for the seeded telecom facility."""
    lead = p.issuer.headers(
        sub="vng-staff",
        scopes=["registry:read", "procurement:read", "procurement:manage"],
        org_id=VNG_OIN,
        org_type="operator",
        lifetime=3600,
    )
    r = await client.get(f"/api/registry/v1/facilities?slug={FACILITY_SLUG}", headers=lead)
    assert r.status_code == 200, r.text
    facility = r.json()["items"][0]
    r = await client.get(f"/api/registry/v1/organisations?oin={VNG_OIN}", headers=lead)
    assert r.status_code == 200, r.text
    lead_party = r.json()["items"][0]
    now = datetime.now(UTC)
    r = await client.post(
        "/api/procurement/v1/tenders",
        json={
            "facilityId": facility["id"],
            "leadPartyId": lead_party["id"],
            "title": "GT telefonie 2027 (storingstest)",
            "procedure": "restricted",
            "estimatedValue": {"amount": 5000000},
            "enrollmentOpensAt": (now - timedelta(hours=1)).isoformat(),
            "enrollmentClosesAt": (now + timedelta(days=14)).isoformat(),
            "plannedStartDate": (now + timedelta(days=30)).date().isoformat(),
            "contractDurationMonths": 36,
            "lots": [{"title": "Vast en mobiel", "unit": "gebruiker"}],
        },
        headers=lead,
    )
    assert r.status_code == 201, r.text
    tender: dict[str, Any] = r.json()
    r = await client.post(f"/api/procurement/v1/tenders/{tender['id']}/publication", headers=lead)
    assert r.status_code == 200, r.text
    return tender


async def enrollments_of(
    client: httpx.AsyncClient, tid: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    r = await client.get(f"/api/procurement/v1/tenders/{tid}/enrollments", headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_registry_down_during_enrollment(platform: Platform) -> None:
    p = platform
    utrecht = municipality(p, UTRECHT_OIN, "utrecht-staff")
    amersfoort = municipality(p, AMERSFOORT_OIN, "amersfoort-staff")
    async with httpx.AsyncClient(base_url=p.url, timeout=30) as client:
        tender = await open_tender(p, client)
        tid, lot_id = tender["id"], tender["lots"][0]["id"]
        path = f"/api/procurement/v1/tenders/{tid}/enrollments"

        p.registry.stop()
        try:
            # The start date must come from the registry: 503 + Retry-After, nothing stored.
            for _attempt in range(3):
                started = time.monotonic()
                r = await client.post(path, json=enrollment(lot_id), headers=utrecht)
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["status"] == 503
                assert int(r.headers["retry-after"]) >= 1
                assert time.monotonic() - started < 10, "the outage answer took too long"
            assert await enrollments_of(client, tid, utrecht) == []
            # An explicit start date needs no registry: accepted (procurement's README).
            start = (date.today() + timedelta(days=120)).isoformat()
            r = await client.post(path, json=enrollment(lot_id, start), headers=amersfoort)
            assert r.status_code == 201, r.text
            assert r.json()["lots"][0]["desiredStartBasis"] == "explicit"
            assert r.json()["lots"][0]["desiredStartDate"] == start
        finally:
            p.registry.start()
        p.registry.wait_live()

        # Back: the same enrollment succeeds, with the date proposed from the registry.
        back = time.monotonic()
        while True:
            r = await client.post(path, json=enrollment(lot_id), headers=utrecht)
            if r.status_code == 201:
                break
            assert r.status_code == 503, r.text
            assert time.monotonic() - back < RECOVERY_BOUND, "no recovery after the registry"
            await asyncio.sleep(0.2)
        line = r.json()["lots"][0]
        assert line["desiredStartDate"] == "2027-07-01"
        assert line["desiredStartBasis"] == "registry-contract-end"
        assert r.json()["municipality"]["province"] == "Utrecht"
        mine = await enrollments_of(client, tid, utrecht)
        assert [e["id"] for e in mine] == [r.json()["id"]], "exactly one Utrecht enrollment"
