"""Demand totals (JSON and CSV) and the OCDS 1.1.5 release package."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from servicekit.testing import TestIssuer

from .conftest import (
    MUNICIPALITIES,
    Clock,
    FakeRegistry,
    mandate,
    municipality_headers,
    open_tender,
)

OCDS = Path(__file__).parent / "ocds"


def ocds_validator() -> Draft4Validator:
    """The package schema refers to the release schema by URL; resolve it locally."""
    package = json.loads((OCDS / "release-package-schema.json").read_text(encoding="utf-8"))
    release = json.loads((OCDS / "release-schema.json").read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resources(
        [
            (release["id"], Resource.from_contents(release, default_specification=DRAFT4)),
            (package["id"], Resource.from_contents(package, default_specification=DRAFT4)),
        ]
    )
    return Draft4Validator(package, registry=registry, format_checker=FormatChecker())


# Fields each extension adds to core objects (ocds_lots_extension v1.1.5; the status
# details extension: tender.statusDetails).
EXTENSION_FIELDS = {
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/"
    "v1.1.5/extension.json": {
        "Tender": {"lots", "lotGroups", "lotDetails"},
        "Item": {"relatedLot"},
    },
    "https://raw.githubusercontent.com/open-contracting-extensions/"
    "ocds_status_details_extension/master/extension.json": {"Tender": {"statusDetails"}},
}


def _undeclared_fields(document: dict[str, Any]) -> list[str]:
    """Core OCDS schemas allow additional properties, so the validator alone would accept
    invented fields: every tender, item, party and milestone key must be a core field or
    come from an extension the package declares."""
    schema = json.loads((OCDS / "release-schema.json").read_text(encoding="utf-8"))
    defs = schema["definitions"]
    out = []
    for release in document["releases"]:
        checks = [("Tender", release["tender"])]
        checks += [("Item", item) for item in release["tender"].get("items", [])]
        checks += [("Organization", party) for party in release["parties"]]
        checks += [("Milestone", m) for m in release["tender"].get("milestones", [])]
        for name, obj in checks:
            known = set(defs[name]["properties"]).union(
                *(EXTENSION_FIELDS[url].get(name, set()) for url in document.get("extensions", []))
            )
            out += [f"{name}.{key}" for key in obj if key not in known]
    return out


def assert_valid_ocds(document: dict[str, Any]) -> None:
    errors = sorted(ocds_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    assert not _undeclared_fields(document)


def pick(cbs: str) -> dict[str, Any]:
    return next(m for m in MUNICIPALITIES if m["cbsCode"] == cbs)


async def enroll(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    tender: dict[str, Any],
    municipality: dict[str, Any],
    volumes: tuple[int, ...],
) -> dict[str, Any]:
    lines = [
        {"lotId": tender["lots"][i]["id"], "expectedVolume": v} for i, v in enumerate(volumes) if v
    ]
    response = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments",
        json={"lots": lines, "mandate": mandate()},
        headers=municipality_headers(issuer, municipality),
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "etag": response.headers["etag"]}


@pytest.fixture
async def tender_with_demand(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> dict[str, Any]:
    # Tender value 1,200,000: lot 2 has 800,000 of its own, lot 1 the remaining 400,000.
    tender = await open_tender(client, registry, lead_headers)
    await enroll(client, issuer, tender, pick("GM0344"), (100, 50))  # Utrecht, Utrecht
    await enroll(client, issuer, tender, pick("GM0307"), (300, 0))  # Amersfoort, Utrecht
    await enroll(client, issuer, tender, pick("GM0014"), (0, 150))  # Groningen, Groningen
    gone = await enroll(client, issuer, tender, pick("GM0363"), (999, 999))  # Amsterdam
    response = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments/{gone['id']}/withdrawal",
        headers={**municipality_headers(issuer, pick("GM0363")), "If-Match": gone["etag"]},
    )
    assert response.status_code == 200
    return tender


async def test_demand_per_lot_and_province(
    client: httpx.AsyncClient, tender_with_demand: dict[str, Any], lead_headers: dict[str, str]
) -> None:
    tid = tender_with_demand["id"]
    response = await client.get(f"/v1/tenders/{tid}/demand", headers=lead_headers)
    assert response.status_code == 200
    demand = response.json()
    assert demand["participants"] == 3  # the withdrawn one does not count
    lot1, lot2 = demand["lots"]
    assert (lot1["participants"], lot1["totalVolume"]) == (2, 400)
    assert (lot2["participants"], lot2["totalVolume"]) == (2, 200)
    assert lot1["estimatedValue"]["amount"] == 400000
    assert lot2["estimatedValue"]["amount"] == 800000
    provinces = {p["province"]: p for p in demand["provinces"]}
    assert set(provinces) == {"Groningen", "Utrecht"}
    utrecht = provinces["Utrecht"]
    assert utrecht["participants"] == 2
    assert [(x["number"], x["participants"], x["volume"]) for x in utrecht["lots"]] == [
        (1, 2, 400),
        (2, 1, 50),
    ]
    # Value share by volume: all of lot 1, a quarter of lot 2.
    assert utrecht["estimatedValueShare"]["amount"] == 400000 + 200000
    assert provinces["Groningen"]["estimatedValueShare"]["amount"] == 600000


async def test_demand_tells_others_no_municipality_s_volume(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    tender_with_demand: dict[str, Any],
    lead_headers: dict[str, str],
) -> None:
    """Lots with fewer than 3 participants and the provinces stay with the lead party: a
    province of one would give that municipality's volume, beside the OCDS buyers."""
    tid = tender_with_demand["id"]
    full = (await client.get(f"/v1/tenders/{tid}/demand", headers=lead_headers)).json()
    assert (full["breakdown"], full["withheld"], full["withheldExplanation"]) == (
        "full", False, None)  # fmt: skip
    assert [lot["withheld"] for lot in full["lots"]] == [False, False]
    await enroll(client, issuer, tender_with_demand, pick("GM0034"), (5, 0))  # Almere
    readers = {
        "municipality": municipality_headers(issuer, pick("GM0344")),  # one of them
        "supplier": issuer.headers(sub="s", scopes=["procurement:read"], org_type="supplier"),
    }
    for who, headers in readers.items():
        demand = (await client.get(f"/v1/tenders/{tid}/demand", headers=headers)).json()
        assert (demand["breakdown"], demand["withheld"], demand["provinces"]) == (
            "lot-totals", True, []), who  # fmt: skip
        assert "lead party" in demand["withheldExplanation"]
        lot1, lot2 = demand["lots"]
        # Lot 1: Utrecht, Amersfoort and Almere; lot 2: only Utrecht and Groningen.
        assert (lot1["participants"], lot1["totalVolume"], lot1["withheld"]) == (3, 405, False)
        assert (lot2["participants"], lot2["totalVolume"], lot2["withheld"]) == (None, None, True)
        assert lot2["estimatedValue"]["amount"] == 800000  # the tender's own terms
        assert demand["participants"] == 4
        rows = list(csv.DictReader(io.StringIO(
            (await client.get(f"/v1/tenders/{tid}/demand.csv", headers=headers)).text)))  # fmt: skip
        assert [(r["level"], r["participants"], r["volume"]) for r in rows] == [
            ("lot", "3", "405"), ("lot", "", "")]  # fmt: skip
    demand = (await client.get(f"/v1/tenders/{tid}/demand", headers=lead_headers)).json()
    assert len(demand["provinces"]) == 3
    # The OCDS release, for everyone, gives only lot 1's total as its item's quantity.
    package = (await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)).json()
    assert_valid_ocds(package)
    items = package["releases"][0]["tender"]["items"]
    assert [item.get("quantity") for item in items] == [405, None]


async def test_demand_csv_by_accept_and_by_path(
    client: httpx.AsyncClient, tender_with_demand: dict[str, Any], lead_headers: dict[str, str]
) -> None:
    tid = tender_with_demand["id"]
    by_accept = await client.get(
        f"/v1/tenders/{tid}/demand", headers={**lead_headers, "Accept": "text/csv"}
    )
    by_path = await client.get(f"/v1/tenders/{tid}/demand.csv", headers=lead_headers)
    for response in (by_accept, by_path):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(by_path.text)))
    assert rows[0]["level"] == "lot"
    lot_rows = [r for r in rows if r["level"] == "lot"]
    assert [(r["lotNumber"], r["participants"], r["volume"]) for r in lot_rows] == [
        ("1", "2", "400"),
        ("2", "2", "200"),
    ]
    province_rows = [r for r in rows if r["level"] == "province"]
    assert {(r["province"], r["lotNumber"]) for r in province_rows} == {
        ("Groningen", "2"),
        ("Utrecht", "1"),
        ("Utrecht", "2"),
    }
    response = await client.get(
        f"/v1/tenders/{tid}/demand", headers={**lead_headers, "Accept": "application/xml"}
    )
    assert response.status_code == 406


async def test_csv_cells_cannot_become_formulas(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    lots = [{"title": '=HYPERLINK("http://evil")', "unit": "seat"}]
    tender = await open_tender(client, registry, lead_headers, lots=lots)
    csv_text = (
        await client.get(f"/v1/tenders/{tender['id']}/demand.csv", headers=lead_headers)
    ).text
    assert "'=HYPERLINK" in csv_text


async def test_ocds_release_package_is_valid(
    client: httpx.AsyncClient, tender_with_demand: dict[str, Any], lead_headers: dict[str, str]
) -> None:
    tid = tender_with_demand["id"]
    response = await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)
    assert response.status_code == 200
    package = response.json()
    assert_valid_ocds(package)
    (release,) = package["releases"]
    assert release["ocid"].endswith(tid)
    roles = {p["id"]: p["roles"] for p in release["parties"]}
    lead = f"NL-OIN-{tender_with_demand['leadParty']['oin']}"
    assert roles[lead] == ["procuringEntity", "centralPurchasingBody"]
    buyers = [p for p in release["parties"] if p["roles"] == ["buyer"]]
    assert len(buyers) == 3  # the withdrawn municipality is not a buyer
    utrecht = next(b for b in buyers if b["name"] == "Utrecht")
    assert utrecht["identifier"] == {
        "scheme": "NL-OIN",
        "id": pick("GM0344")["oin"],
        "legalName": "Utrecht",
    }
    assert utrecht["address"]["region"] == "Utrecht"
    tender = release["tender"]
    assert tender["procurementMethod"] == "open"
    assert tender["procuringEntity"]["id"] == lead
    assert tender["value"] == {"amount": 1200000, "currency": "EUR"}
    assert [lot["value"]["amount"] for lot in tender["lots"]] == [400000, 800000]
    # Two municipalities per lot: their totals would tell each one's volume.
    assert ["quantity" in item for item in tender["items"]] == [False, False]
    # The service runs 2030-01-01 up to and including 2033-12-31, Dutch time.
    assert tender["contractPeriod"] == {
        "startDate": "2030-01-01T00:00:00+01:00",
        "endDate": "2033-12-31T23:59:59+01:00",
        "durationInDays": 1461,
    }
    # The enrollment window as core milestones (no invented tender.enrollmentPeriod).
    assert "enrollmentPeriod" not in tender
    opens, closes = tender["milestones"]
    assert (opens["code"], opens["type"], opens["status"]) == (
        "enrollmentOpens",
        "preProcurement",
        "met",
    )
    assert opens["dateMet"] == opens["dueDate"]
    assert (closes["code"], closes["status"]) == ("enrollmentCloses", "scheduled")
    assert closes["dueDate"].endswith("Z")
    assert "dateMet" not in closes


@pytest.mark.parametrize(
    ("procedure", "method"),
    [
        ("open", "open"),
        ("restricted", "selective"),
        ("competitive-dialogue", "selective"),
        ("negotiated", "limited"),
    ],
)
async def test_ocds_procedures_and_statuses_stay_valid(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    lead_headers: dict[str, str],
    procedure: str,
    method: str,
) -> None:
    from .conftest import tender_body

    created = await client.post(
        "/v1/tenders", json=tender_body(registry, procedure=procedure), headers=lead_headers
    )
    tid = created.json()["id"]
    for step in (None, "publication", "enrollment-closure", "tendering", "cancellation"):
        if step:
            body = {"reason": "test"} if step == "cancellation" else None
            response = await client.post(
                f"/v1/tenders/{tid}/{step}", json=body, headers=lead_headers
            )
            assert response.status_code == 200, response.text
        package = (await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)).json()
        assert_valid_ocds(package)
        assert package["releases"][0]["tender"]["procurementMethod"] == method


def test_the_validator_rejects_a_broken_package() -> None:
    # The check above can fail: a package without publisher or with a bad method is invalid.
    broken = {
        "uri": "https://x",
        "version": "1.1",
        "publishedDate": "2026-01-01T00:00:00Z",
        "releases": [
            {
                "ocid": "ocds-x-1",
                "id": "1",
                "date": "2026-01-01T00:00:00Z",
                "tag": ["tender"],
                "initiationType": "tender",
                "tender": {"id": "1", "procurementMethod": "restricted"},
            }
        ],
    }
    assert list(ocds_validator().iter_errors(broken))
    # ... and an invented field is caught even though the core schema would allow it.
    broken["releases"][0]["parties"] = []
    broken["releases"][0]["tender"]["enrollmentPeriod"] = {}
    assert _undeclared_fields(broken) == ["Tender.enrollmentPeriod"]


async def test_value_shares_add_up_to_the_cent(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """1,000,000 over 3 lots without own values: 333,333.34 + 2 x 333,333.33, not 3 x
    333,333.33; each lot's province shares (a third each) add up to the lot's value."""
    lots = [{"title": f"Perceel {i}", "unit": "stuk"} for i in range(3)]
    tender = await open_tender(
        client, registry, lead_headers, lots=lots, estimatedValue={"amount": 1000000}
    )
    for cbs in ("GM0344", "GM0014", "GM0363"):  # Utrecht, Groningen, Noord-Holland
        await enroll(client, issuer, tender, pick(cbs), (1, 1, 1))
    tid = tender["id"]
    demand = (await client.get(f"/v1/tenders/{tid}/demand", headers=lead_headers)).json()
    cents = [round(lot["estimatedValue"]["amount"] * 100) for lot in demand["lots"]]
    assert cents == [33333334, 33333333, 33333333]
    for i, lot in enumerate(demand["lots"]):
        parts = [
            round(line["estimatedValueShare"]["amount"] * 100)
            for p in demand["provinces"]
            for line in p["lots"]
            if line["lotId"] == lot["lotId"]
        ]
        assert sum(parts) == cents[i]
    provinces = [round(p["estimatedValueShare"]["amount"] * 100) for p in demand["provinces"]]
    assert sum(provinces) == 100000000
    package = (await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)).json()
    ocds = package["releases"][0]["tender"]
    assert sum(round(lot["value"]["amount"] * 100) for lot in ocds["lots"]) == 100000000
    assert ocds["value"]["amount"] == 1000000


async def test_ocds_awarded_and_contracted_stay_tender_updates(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    """The "award" and "contract" tags promise awards and contracts sections, which this
    service has no data for."""
    tid = (await open_tender(client, registry, lead_headers))["id"]
    for step, tag in (("enrollment-closure", "planning"), ("tendering", "tender"),
                      ("award", "tenderUpdate"), ("contracting", "tenderUpdate")):  # fmt: skip
        response = await client.post(f"/v1/tenders/{tid}/{step}", headers=lead_headers)
        assert response.status_code == 200, response.text
        package = (await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)).json()
        assert_valid_ocds(package)
        (release,) = package["releases"]
        assert release["tag"] == [tag], step
        assert "awards" not in release
        assert "contracts" not in release


@pytest.mark.parametrize("publish", [False, True])
async def test_ocds_cancelled_before_enrollment_opened(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    lead_headers: dict[str, str],
    clock: Clock,
    publish: bool,
) -> None:
    """Cancelled as a draft, or published with the window still ahead: the reason is the
    tender's statusDetails, and neither enrollment milestone is scheduled or met, even
    once their moments have passed."""
    from .conftest import tender_body

    opens = datetime.now(UTC) + timedelta(days=5)
    body = tender_body(registry, enrollmentOpensAt=opens.isoformat())
    tid = (await client.post("/v1/tenders", json=body, headers=lead_headers)).json()["id"]
    if publish:
        response = await client.post(f"/v1/tenders/{tid}/publication", headers=lead_headers)
        assert response.status_code == 200, response.text
    response = await client.post(f"/v1/tenders/{tid}/cancellation",
                                 json={"reason": "Budget ingetrokken"}, headers=lead_headers)  # fmt: skip
    assert response.status_code == 200, response.text
    clock.fixed = datetime.fromisoformat(body["enrollmentClosesAt"]) + timedelta(days=1)
    package = (await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)).json()
    assert_valid_ocds(package)
    tender = package["releases"][0]["tender"]
    assert (tender["status"], tender["statusDetails"]) == ("cancelled", "Budget ingetrokken")
    assert [(m["code"], m["status"]) for m in tender["milestones"]] == [
        ("enrollmentOpens", "notMet"), ("enrollmentCloses", "notMet")]  # fmt: skip
    assert not any("dateMet" in m for m in tender["milestones"])


async def test_ocds_cancelled_while_open_met_only_the_opening(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    tid = (await open_tender(client, registry, lead_headers))["id"]
    response = await client.post(f"/v1/tenders/{tid}/cancellation",
                                 json={"reason": "Markt gewijzigd"}, headers=lead_headers)  # fmt: skip
    assert response.status_code == 200, response.text
    package = (await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)).json()
    assert_valid_ocds(package)
    tender = package["releases"][0]["tender"]
    assert tender["statusDetails"] == "Markt gewijzigd"
    assert [(m["code"], m["status"]) for m in tender["milestones"]] == [
        ("enrollmentOpens", "met"), ("enrollmentCloses", "notMet")]  # fmt: skip


async def test_ocds_release_id_and_date_follow_the_content(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
    clock: Clock,
) -> None:
    """The same content keeps its id; registry details filled in later, or the window
    closing by the clock, make a new release (the closing moment is its date)."""
    tender = await open_tender(client, registry, lead_headers)
    tid = tender["id"]
    registry.down = True  # enrolled with explicit dates, without the registry's details
    body = {"lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 5,
                      "desiredStartDate": "2030-02-01"}], "mandate": mandate()}  # fmt: skip
    response = await client.post(f"/v1/tenders/{tid}/enrollments", json=body,
                                 headers=municipality_headers(issuer, pick("GM0344")))  # fmt: skip
    assert response.status_code == 201, response.text

    async def release() -> dict[str, Any]:
        package = (await client.get(f"/v1/tenders/{tid}/ocds", headers=lead_headers)).json()
        assert_valid_ocds(package)
        return dict(package["releases"][0])

    first = await release()
    assert (await release())["id"] == first["id"]
    registry.down = False
    filled = await release()
    assert next(p for p in filled["parties"] if p["roles"] == ["buyer"])["name"] == "Utrecht"
    assert filled["id"] != first["id"]
    closes = datetime.fromisoformat(tender["enrollmentClosesAt"])
    clock.fixed = closes + timedelta(hours=1)
    closed = await release()
    assert closed["tender"]["milestones"][1]["status"] == "met"
    assert closed["id"] != filled["id"]
    assert datetime.fromisoformat(closed["date"]) == closes
