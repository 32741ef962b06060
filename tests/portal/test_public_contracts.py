"""Public pages with the portal's read token: the registry withholds other municipalities'
contract details from it (null, ``contractDetailsShown`` false), so the pages show who
uses what without a contract-end column or timeline, and say why."""

from __future__ import annotations

from typing import Any

from conftest import Portal
from test_errors import page_of
from test_flows import FACILITY, FACILITY_ID

REG = "/api/registry/v1"
UTRECHT_ID = "55555555-5555-5555-5555-555555555555"
AMERSFOORT_ID = "66666666-6666-6666-6666-666666666666"


def _usage(municipality_id: str, shown: bool, end: str | None = None) -> dict[str, Any]:
    return {
        "id": f"u-{municipality_id[:4]}", "municipalityId": municipality_id,
        "facilityId": FACILITY_ID, "offeringId": None, "versionId": None,
        "inheritedFromId": None, "status": "active", "startDate": "2024-01-01",
        "contractEndDate": end if shown else None, "noticePeriodMonths": None,
        "contractValueBand": None, "annualCost": None, "contractDetailsShown": shown,
        "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
    }  # fmt: skip


def _facility(portal: Portal, usages: list[dict[str, Any]]) -> None:
    fake = portal.fake
    fake.json("GET", f"{REG}/facilities/{FACILITY_ID}", FACILITY)
    fake.json("GET", f"{REG}/facilities/{FACILITY_ID}/stage-transitions", page_of([]))
    fake.json("GET", f"{REG}/offerings", page_of([]))
    fake.json("GET", f"{REG}/integrations", page_of([]))
    fake.json("GET", f"{REG}/usages", page_of(usages))
    for oid, name in ((UTRECHT_ID, "Utrecht"), (AMERSFOORT_ID, "Amersfoort")):
        fake.json("GET", f"{REG}/organisations/{oid}",
                  {"id": oid, "name": name, "type": "municipality"})  # fmt: skip


async def test_public_facility_page_without_contract_ends(portal: Portal) -> None:
    _facility(portal, [_usage(UTRECHT_ID, False), _usage(AMERSFOORT_ID, False)])
    page = await portal.client.get(f"/facilities/{FACILITY_ID}")
    assert page.status_code == 200, page.text
    assert "Utrecht" in page.text
    assert "Amersfoort" in page.text
    assert "Contract loopt tot" not in page.text  # no column it may not fill
    assert "Contracten die aflopen, per jaar" not in page.text  # no timeline
    assert "Geen einddatum" not in page.text  # withheld is not "no end date"
    assert "zien alleen de gemeente zelf" in page.text
    assert "tot wanneer" not in page.text  # the heading promises no dates
    assert f"Gemeenten die {FACILITY['name']} gebruiken, op naam" in page.text
    assert page.text.index("Amersfoort") < page.text.index(">Utrecht<")  # by name


async def test_facility_page_with_the_contract_ends_it_may_show(portal: Portal) -> None:
    _facility(portal, [_usage(UTRECHT_ID, True, "2027-06-30"), _usage(AMERSFOORT_ID, False)])
    page = await portal.client.get(f"/facilities/{FACILITY_ID}")
    assert page.status_code == 200, page.text
    assert "Contract loopt tot" in page.text
    assert "Contracten die aflopen, per jaar" in page.text
    assert "2027" in page.text
    assert "Niet openbaar" in page.text  # Amersfoort's row
    timeline = page.text.split("Contracten die aflopen, per jaar", 1)[1]
    assert "Utrecht" in timeline
    assert "Amersfoort" not in timeline


async def test_public_organisation_page_without_contract_ends(portal: Portal) -> None:
    fake = portal.fake
    fake.json("GET", f"{REG}/organisations/{UTRECHT_ID}", {
        "id": UTRECHT_ID, "name": "Utrecht", "type": "municipality", "memberIds": [],
        "successorId": None, "endedOn": None, "cbsCode": "GM0344", "province": "Utrecht",
        "oin": "00000001001234567000", "kvkNumber": None})  # fmt: skip
    fake.json("GET", f"{REG}/usages", page_of([_usage(UTRECHT_ID, False)]))
    fake.json("GET", f"{REG}/facilities/{FACILITY_ID}", FACILITY)
    page = await portal.client.get(f"/organisations/{UTRECHT_ID}")
    assert page.status_code == 200, page.text
    assert FACILITY["name"] in page.text
    assert "Contract loopt tot" not in page.text
    assert "Geen einddatum" not in page.text
