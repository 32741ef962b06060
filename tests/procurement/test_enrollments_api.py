"""Enrollment with a mandate: assurance level, ownership, window, start dates,
exactly-once, If-Match, withdrawal and registry outages."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from procurement.enrollments.models import Enrollment, EnrollmentLot, Mandate
from procurement.enrollments.repository import _TERMS
from servicekit.auth import LOA_HIGH, LOA_LOW, LOA_SUBSTANTIAL
from servicekit.testing import TestIssuer

from .conftest import (
    MUNICIPALITIES,
    Clock,
    FakeRegistry,
    amsterdam_today,
    mandate,
    municipality_headers,
    open_tender,
)

UTRECHT = next(m for m in MUNICIPALITIES if m["cbsCode"] == "GM0344")
GRONINGEN = next(m for m in MUNICIPALITIES if m["cbsCode"] == "GM0014")


def enrollment_body(tender: dict[str, Any], **line: Any) -> dict[str, Any]:
    return {
        "lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 120, **line}],
        "mandate": mandate(),
    }


async def count_rows(app: Any, model: Any) -> int:
    async with app.state.database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_enroll_with_mandate_and_registry_start_date(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    registry.add_usage(UTRECHT, date(2030, 3, 31))
    registry.add_usage(UTRECHT, date(2019, 1, 1), status="ended")
    tender = await open_tender(client, registry, lead_headers)
    headers = municipality_headers(issuer, UTRECHT)
    response = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments", json=enrollment_body(tender), headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"].endswith(body["id"])
    assert body["status"] == "enrolled"
    assert body["municipality"] == {
        "oin": UTRECHT["oin"],
        "id": UTRECHT["id"],
        "name": "Utrecht",
        "cbsCode": "GM0344",
        "province": "Utrecht",
    }
    (line,) = body["lots"]
    assert line["desiredStartDate"] == "2030-04-01"
    assert line["desiredStartBasis"] == "registry-contract-end"
    assert "2030-03-31" in line["desiredStartExplanation"]
    signed = body["mandate"]
    assert signed["signerName"] == "A. de Vries"
    assert signed["signerAcr"] == LOA_SUBSTANTIAL
    assert signed["scope"]["tenderId"] == tender["id"]
    assert signed["scope"]["lotIds"] == [tender["lots"][0]["id"]]
    assert signed["scope"]["leadPartyOin"] == registry.lead["oin"]
    assert "act-in-procedure-on-behalf" in signed["scope"]["powers"]


async def test_start_date_defaults_to_planned_start_or_explicit(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    response = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, GRONINGEN)
    )
    line = response.json()["lots"][0]
    assert line["desiredStartDate"] == "2030-01-01"
    assert line["desiredStartBasis"] == "planned-start"
    assert "no active contract" in line["desiredStartExplanation"]

    body = enrollment_body(tender, desiredStartDate="2030-06-01")
    response = await client.post(url, json=body, headers=municipality_headers(issuer, UTRECHT))
    line = response.json()["lots"][0]
    assert (line["desiredStartDate"], line["desiredStartBasis"]) == ("2030-06-01", "explicit")


async def test_a_registry_contract_ending_on_the_last_representable_day_proposes_the_planned_start(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """The registry accepts a contract end of 9999-12-31; proposing the day after it was a
    500 (OverflowError) on the enrollment. The tender's planned start is proposed, saying
    why."""
    registry.add_usage(UTRECHT, date(9999, 12, 31))
    tender = await open_tender(client, registry, lead_headers)
    response = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments",
        json=enrollment_body(tender),
        headers=municipality_headers(issuer, UTRECHT),
    )
    assert response.status_code == 201, response.text
    (line,) = response.json()["lots"]
    assert (line["desiredStartDate"], line["desiredStartBasis"]) == ("2030-01-01", "planned-start")
    assert "9999-12-31" in line["desiredStartExplanation"]
    assert await count_rows(app, Enrollment) == 1


async def test_low_assurance_gets_403_with_required_acr(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    for acr in (LOA_LOW, None):
        headers = issuer.headers(
            sub="weak",
            scopes=["procurement:enroll"],
            org_id=UTRECHT["oin"],
            org_type="municipality",
            acr=acr,
        )
        response = await client.post(url, json=enrollment_body(tender), headers=headers)
        assert response.status_code == 403
        problem = response.json()
        assert problem["requiredAcr"] == LOA_SUBSTANTIAL
        assert "insufficient_user_authentication" in response.headers["www-authenticate"]
    assert await count_rows(app, Enrollment) == 0
    high = municipality_headers(issuer, UTRECHT, acr=LOA_HIGH)
    response = await client.post(url, json=enrollment_body(tender), headers=high)
    assert response.status_code == 201


async def test_only_municipality_staff_enroll_their_own(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    supplier = issuer.headers(scopes=["procurement:enroll"], org_id="12345678", org_type="supplier")
    assert (
        await client.post(url, json=enrollment_body(tender), headers=supplier)
    ).status_code == 403
    reader = issuer.headers(
        scopes=["procurement:read"], org_id=UTRECHT["oin"], org_type="municipality"
    )
    response = await client.post(url, json=enrollment_body(tender), headers=reader)
    assert response.status_code == 403

    created = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, UTRECHT)
    )
    eid, etag = created.json()["id"], created.headers["etag"]
    other = {**municipality_headers(issuer, GRONINGEN), "If-Match": etag}
    response = await client.post(f"{url}/{eid}/withdrawal", headers=other)
    assert response.status_code == 403
    # Mandates name a person: another municipality cannot read them; the lead party can.
    assert (await client.get(f"{url}/{eid}", headers=other)).status_code == 403
    assert (await client.get(f"{url}/{eid}", headers=lead_headers)).status_code == 200
    listing = await client.get(url, headers=municipality_headers(issuer, GRONINGEN))
    assert listing.json()["total"] == 0
    assert (await client.get(url, headers=lead_headers)).json()["total"] == 1


async def test_a_proposed_start_stays_within_the_joint_contract(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """The joint contract runs 2030-01-01 to 2033-12-31. A current contract ending before
    it starts gives its planned start; one ending after it ends gives no proposal at all:
    a 400 asking for a date, nothing stored."""
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    registry.add_usage(UTRECHT, date(2029, 6, 30))
    registry.add_usage(GRONINGEN, date(2035, 6, 30))
    response = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, UTRECHT)
    )
    assert response.status_code == 201, response.text
    (line,) = response.json()["lots"]
    assert (line["desiredStartDate"], line["desiredStartBasis"]) == ("2030-01-01", "planned-start")
    assert "2029-06-30" in line["desiredStartExplanation"]

    response = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, GRONINGEN)
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["invalidParams"] == [
        {
            "name": "lots[0].desiredStartDate",
            "reason": "outside the joint contract: from 2030-01-01 to 2033-12-31",
        }
    ]
    assert "2035-06-30" in problem["detail"]
    assert await count_rows(app, Enrollment) == 1
    assert await count_rows(app, Mandate) == 1


async def test_bad_input_is_400_and_writes_nothing(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    headers = municipality_headers(issuer, UTRECHT)
    lot = tender["lots"][0]["id"]
    cases = [
        {"lots": [], "mandate": mandate()},
        {"lots": [{"lotId": lot, "expectedVolume": 0}], "mandate": mandate()},
        {"lots": [{"lotId": lot, "expectedVolume": 5}]},
        {"lots": [{"lotId": lot, "expectedVolume": 5}] * 2, "mandate": mandate()},
        {
            "lots": [{"lotId": "0b7a5d52-2f0c-4ad4-8f3e-2a0c4b3f1d99", "expectedVolume": 5}],
            "mandate": mandate(),
        },
        {
            "lots": [{"lotId": lot, "expectedVolume": 5}],
            "mandate": {**mandate(), "authorisesLeadParty": False},
        },
        {"lots": [{"lotId": lot, "expectedVolume": 5}], "mandate": mandate(signer="   ")},
        {"lots": [{"lotId": lot, "expectedVolume": 5}], "mandate": mandate(role="wet\u0007houder")},
        # JSON types as documented: not a string for a number, not 1 for true.
        {"lots": [{"lotId": lot, "expectedVolume": "40"}], "mandate": mandate()},
        {"lots": [{"lotId": lot, "expectedVolume": True}], "mandate": mandate()},
        {
            "lots": [{"lotId": lot, "expectedVolume": 5}],
            "mandate": {**mandate(), "authorisesLeadParty": 1},
        },
        {
            "lots": [{"lotId": lot, "expectedVolume": 5}],
            "mandate": {
                **mandate(),
                "signedDate": (amsterdam_today() + timedelta(days=3)).isoformat(),
            },
        },
        # Before the tender existed (a typing error: 1900, or 1026 for 2026).
        {
            "lots": [{"lotId": lot, "expectedVolume": 5}],
            "mandate": {**mandate(), "signedDate": "1900-01-01"},
        },
        {
            "lots": [{"lotId": lot, "expectedVolume": 5}],
            "mandate": {
                **mandate(),
                "signedDate": (amsterdam_today() - timedelta(days=400)).isoformat(),
            },
        },
    ]
    for body in cases:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["invalidParams"]
    response = await client.post(
        url, content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert await count_rows(app, Enrollment) == 0
    assert await count_rows(app, Mandate) == 0


async def test_a_lot_listed_twice_is_400_naming_lots_and_changes_nothing(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """Each lot once, on an enrollment and its change: a 400 naming ``lots`` (it named
    the whole ``body``), nothing stored, the enrollment as it was."""
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    headers = municipality_headers(issuer, UTRECHT)
    lot = tender["lots"][0]["id"]
    twice = [{"lotId": lot, "expectedVolume": 1}, {"lotId": lot, "expectedVolume": 2}]
    response = await client.post(url, json={"lots": twice, "mandate": mandate()}, headers=headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalidParams"] == [
        {"name": "lots", "reason": "Value error, each lot may appear only once"}
    ]
    assert await count_rows(app, Enrollment) == 0

    created = await client.post(url, json=enrollment_body(tender), headers=headers)
    eid, etag = created.json()["id"], created.headers["etag"]
    response = await client.put(
        f"{url}/{eid}", json={"lots": twice, "mandate": mandate()},
        headers={**headers, "If-Match": etag},
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert [p["name"] for p in response.json()["invalidParams"]] == ["lots"]
    after = await client.get(f"{url}/{eid}", headers=headers)
    assert after.headers["etag"] == etag
    assert after.json()["lots"] == created.json()["lots"]
    assert await count_rows(app, EnrollmentLot) == 1
    assert await count_rows(app, Mandate) == 1


async def test_window_edges(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
    clock: Clock,
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    closes = datetime.fromisoformat(tender["enrollmentClosesAt"])
    clock.fixed = closes - timedelta(milliseconds=1)
    response = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, UTRECHT)
    )
    assert response.status_code == 201
    clock.fixed = closes + timedelta(milliseconds=1)
    response = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, GRONINGEN)
    )
    assert response.status_code == 409
    assert datetime.fromisoformat(response.json()["closesAt"]) == closes


async def test_not_yet_open_and_draft_are_refused(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
    clock: Clock,
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    opens = datetime.fromisoformat(tender["enrollmentOpensAt"])
    clock.fixed = opens - timedelta(seconds=1)
    response = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments",
        json=enrollment_body(tender),
        headers=municipality_headers(issuer, UTRECHT),
    )
    assert response.status_code == 409
    assert "opensAt" in response.json()


async def test_duplicate_enrollment_conflicts_and_idempotency_replays(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    headers = {**municipality_headers(issuer, UTRECHT), "Idempotency-Key": "utrecht-1"}
    first = await client.post(url, json=enrollment_body(tender), headers=headers)
    replay = await client.post(url, json=enrollment_body(tender), headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    other_body = enrollment_body(tender)
    other_body["lots"][0]["expectedVolume"] = 7
    reused = await client.post(url, json=other_body, headers=headers)
    assert reused.status_code == 422
    no_key = municipality_headers(issuer, UTRECHT)
    _TERMS.clear()  # this duplicate is the request that reads and caches the terms
    again = await client.post(url, json=enrollment_body(tender), headers=no_key)
    assert again.status_code == 409
    assert again.json()["enrollmentId"] == first.json()["id"]
    assert again.headers["location"].endswith(first.json()["id"])
    assert await count_rows(app, Enrollment) == 1
    assert await count_rows(app, Mandate) == 1
    # The refused duplicate rolled its transaction back; the tender's terms that every
    # request shares must survive that (they were expired with it once: a 500 for the
    # next municipality).
    groningen = next(m for m in MUNICIPALITIES if m["cbsCode"] == "GM0014")
    next_one = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, groningen)
    )
    assert next_one.status_code == 201, next_one.text


async def test_change_needs_if_match_and_new_lots_need_a_new_mandate(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    headers = municipality_headers(issuer, UTRECHT)
    created = await client.post(url, json=enrollment_body(tender), headers=headers)
    eid, etag = created.json()["id"], created.headers["etag"]
    lot1, lot2 = (lot["id"] for lot in tender["lots"])
    same_lot = {"lots": [{"lotId": lot1, "expectedVolume": 200}]}
    assert (await client.put(f"{url}/{eid}", json=same_lot, headers=headers)).status_code == 428
    stale = {**headers, "If-Match": '"nope"'}
    assert (await client.put(f"{url}/{eid}", json=same_lot, headers=stale)).status_code == 412
    fresh = {**headers, "If-Match": etag}
    changed = await client.put(f"{url}/{eid}", json=same_lot, headers=fresh)
    assert changed.status_code == 200, changed.text
    assert changed.json()["lots"][0]["expectedVolume"] == 200
    assert changed.json()["version"] == 2

    both = {
        "lots": [
            {"lotId": lot1, "expectedVolume": 200},
            {"lotId": lot2, "expectedVolume": 30, "desiredStartDate": "2030-02-01"},
        ]
    }
    fresh = {**headers, "If-Match": changed.headers["etag"]}
    response = await client.put(f"{url}/{eid}", json=both, headers=fresh)
    assert response.status_code == 400
    assert response.json()["invalidParams"][0]["name"] == "mandate"
    with_mandate = {**both, "mandate": mandate("B. Jansen", "burgemeester")}
    response = await client.put(f"{url}/{eid}", json=with_mandate, headers=fresh)
    assert response.status_code == 200
    assert response.json()["mandate"]["signerName"] == "B. Jansen"
    assert len(response.json()["lots"]) == 2
    # The first mandate is kept unchanged next to the new one.
    mandates = (await client.get(f"{url}/{eid}/mandates", headers=headers)).json()
    assert [m["signerName"] for m in mandates] == ["A. de Vries", "B. Jansen"]
    assert mandates[0]["scope"]["lotIds"] == [lot1]
    assert await count_rows(app, EnrollmentLot) == 2


async def test_withdrawal_until_window_closes_then_409_with_closes_at(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
    clock: Clock,
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    closes = datetime.fromisoformat(tender["enrollmentClosesAt"])
    ut, gr = municipality_headers(issuer, UTRECHT), municipality_headers(issuer, GRONINGEN)
    a = await client.post(url, json=enrollment_body(tender), headers=ut)
    b = await client.post(url, json=enrollment_body(tender), headers=gr)

    response = await client.post(
        f"{url}/{a.json()['id']}/withdrawal",
        json={"reason": "eigen aanbesteding"},
        headers={**ut, "If-Match": a.headers["etag"]},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["withdrawnAt"]
    # Enrolling again after a withdrawal reuses the one row for this municipality.
    again = await client.post(url, json=enrollment_body(tender), headers=ut)
    assert again.status_code == 201
    assert again.json()["id"] == a.json()["id"]
    assert again.json()["status"] == "enrolled"

    clock.fixed = closes + timedelta(milliseconds=1)
    response = await client.post(
        f"{url}/{b.json()['id']}/withdrawal", headers={**gr, "If-Match": b.headers["etag"]}
    )
    assert response.status_code == 409
    assert datetime.fromisoformat(response.json()["closesAt"]) == closes
    change = {"lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 1}]}
    response = await client.put(
        f"{url}/{b.json()['id']}", json=change, headers={**gr, "If-Match": b.headers["etag"]}
    )
    assert response.status_code == 409
    assert "closesAt" in response.json()


async def test_registry_down_explicit_date_works_otherwise_503(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    registry.down = True
    app.state.registry.clear_cache()  # nothing cached from earlier look-ups
    response = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, UTRECHT)
    )
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == "application/problem+json"
    assert await count_rows(app, Enrollment) == 0

    explicit = enrollment_body(tender, desiredStartDate="2030-05-01")
    response = await client.post(url, json=explicit, headers=municipality_headers(issuer, UTRECHT))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["lots"][0]["desiredStartBasis"] == "explicit"
    assert body["municipality"]["oin"] == UTRECHT["oin"]
    assert await count_rows(app, Enrollment) == 1


async def test_registry_details_missed_in_an_outage_are_filled_when_it_is_back(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """An enrollment made during an outage (explicit date) has no name or province; once
    the registry answers, demand per province, OCDS and the enrollment itself have them."""
    tender = await open_tender(client, registry, lead_headers)
    tid = tender["id"]
    url = f"/v1/tenders/{tid}/enrollments"
    groningen = next(m for m in MUNICIPALITIES if m["cbsCode"] == "GM0014")
    ok = await client.post(
        url, json=enrollment_body(tender), headers=municipality_headers(issuer, groningen)
    )
    assert ok.status_code == 201
    registry.down = True
    app.state.registry.clear_cache()
    explicit = enrollment_body(tender, desiredStartDate="2030-05-01")
    made = await client.post(url, json=explicit, headers=municipality_headers(issuer, UTRECHT))
    assert made.status_code == 201, made.text
    assert made.json()["municipality"] == {
        "oin": UTRECHT["oin"],
        "id": None,
        "name": None,
        "cbsCode": None,
        "province": None,
    }

    # Still down: the reads work, the province is unknown (and nothing is invented).
    demand = (await client.get(f"/v1/tenders/{tid}/demand", headers=lead_headers)).json()
    assert {p.get("province"): p["participants"] for p in demand["provinces"]} == {
        "Groningen": 1,
        None: 1,
    }

    registry.down = False
    demand = (await client.get(f"/v1/tenders/{tid}/demand", headers=lead_headers)).json()
    assert {p.get("province"): p["participants"] for p in demand["provinces"]} == {
        "Groningen": 1,
        "Utrecht": 1,
    }
    async with app.state.database.sessionmaker() as session:
        row = (
            await session.execute(
                select(Enrollment).where(Enrollment.id == uuid.UUID(made.json()["id"]))
            )
        ).scalar_one()
    assert (row.municipality_name, row.province, row.municipality_cbs_code) == (
        "Utrecht",
        "Utrecht",
        "GM0344",
    )
    assert row.version == 1  # derived registry data: the municipality's ETag stays
    got = await client.get(
        f"{url}/{made.json()['id']}", headers=municipality_headers(issuer, UTRECHT)
    )
    assert got.json()["municipality"]["province"] == "Utrecht"
    assert got.headers["etag"] == made.headers["etag"]


async def test_registry_details_are_filled_by_the_ocds_export_and_enrollment_reads(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    registry.down = True
    app.state.registry.clear_cache()
    explicit = enrollment_body(tender, desiredStartDate="2030-05-01")
    headers = municipality_headers(issuer, UTRECHT)
    made = await client.post(url, json=explicit, headers=headers)
    assert made.status_code == 201, made.text
    groningen = next(m for m in MUNICIPALITIES if m["cbsCode"] == "GM0014")
    other_headers = municipality_headers(issuer, groningen)
    other = await client.post(url, json=explicit, headers=other_headers)
    assert other.status_code == 201, other.text
    got = await client.get(f"{url}/{made.json()['id']}", headers=headers)
    assert got.json()["municipality"]["name"] is None  # unknown: null (servicekit keeps nulls)

    registry.down = False
    got = await client.get(f"{url}/{made.json()['id']}", headers=headers)
    assert got.json()["municipality"]["name"] == "Utrecht"
    package = (await client.get(f"/v1/tenders/{tender['id']}/ocds", headers=lead_headers)).json()
    buyers = {p["name"]: p for p in package["releases"][0]["parties"] if p["roles"] == ["buyer"]}
    assert set(buyers) == {"Utrecht", "Groningen"}
    assert buyers["Groningen"]["address"]["region"] == "Groningen"


async def enrollment_row(app: Any, enrollment_id: str) -> Enrollment:
    async with app.state.database.sessionmaker() as session:
        query = select(Enrollment).where(Enrollment.id == uuid.UUID(enrollment_id))
        return (await session.execute(query)).scalar_one()


async def test_registry_details_are_filled_by_the_enrollment_list(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """Enrollments made during an outage: while it lasts the list answers 200 with what is
    stored; once the registry is back the list fills the rows on its page (one bulk read of
    the municipalities, not one call per row) and stores them."""
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    registry.down = True
    app.state.registry.clear_cache()
    explicit = enrollment_body(tender, desiredStartDate="2030-05-01")
    made = [
        await client.post(url, json=explicit, headers=municipality_headers(issuer, m))
        for m in (UTRECHT, GRONINGEN)
    ]
    assert [r.status_code for r in made] == [201, 201], made[1].text
    utrecht_id, groningen_id = (r.json()["id"] for r in made)

    # Still down: 200 with the stored data (no details invented, nothing written).
    listed = await client.get(url, headers=lead_headers)
    assert listed.status_code == 200, listed.text
    stored = [e["municipality"] for e in listed.json()["items"]]
    assert [(m["oin"], m.get("name"), m.get("province")) for m in stored] == [
        (UTRECHT["oin"], None, None),
        (GRONINGEN["oin"], None, None),
    ]
    # Unknown details are null, as in a single read.
    assert all(m["name"] is None and m["province"] is None for m in stored)
    assert (await enrollment_row(app, utrecht_id)).municipality_id is None

    # Back: the first page (one row) is filled and stored; the row beyond it is not.
    registry.down = False
    registry.calls.clear()
    listed = await client.get(url, params={"pageSize": 1}, headers=lead_headers)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["id"] == utrecht_id
    assert item["municipality"] == {
        "oin": UTRECHT["oin"],
        "id": UTRECHT["id"],
        "name": "Utrecht",
        "cbsCode": "GM0344",
        "province": "Utrecht",
    }
    assert item["version"] == 1  # derived registry data: the ETag stays
    assert set(registry.calls) == {"/v1/organisations"}  # the paged municipality list
    assert len(registry.calls) == -(-len(MUNICIPALITIES) // 100)
    row = await enrollment_row(app, utrecht_id)
    assert (row.municipality_name, row.province, row.version) == ("Utrecht", "Utrecht", 1)
    assert (await enrollment_row(app, groningen_id)).municipality_id is None

    # Down again, nothing cached: the list (and a single read) still show what was stored.
    registry.down = True
    app.state.registry.clear_cache()
    listed = await client.get(url, headers=lead_headers)
    assert listed.status_code == 200, listed.text
    assert [e["municipality"].get("name") for e in listed.json()["items"]] == ["Utrecht", None]
    got = await client.get(f"{url}/{utrecht_id}", headers=municipality_headers(issuer, UTRECHT))
    assert got.status_code == 200
    assert got.json()["municipality"]["province"] == "Utrecht"
    assert got.headers["etag"] == made[0].headers["etag"]


async def test_history_and_events_record_enrollments(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    headers = municipality_headers(issuer, UTRECHT)
    created = await client.post(url, json=enrollment_body(tender), headers=headers)
    await client.post(
        f"{url}/{created.json()['id']}/withdrawal",
        headers={**headers, "If-Match": created.headers["etag"]},
    )
    history = (await client.get(f"/v1/tenders/{tender['id']}/history", headers=lead_headers)).json()
    actions = [(h["entity"], h["action"]) for h in history["items"]]
    assert ("enrollment", "enrolled") in actions
    assert ("enrollment", "withdrawn") in actions
    # Others do not see who enrolled when.
    others = (await client.get(f"/v1/tenders/{tender['id']}/history", headers=headers)).json()
    assert all(h["entity"] != "enrollment" for h in others["items"])

    feed = (await client.get("/v1/events", headers=lead_headers)).json()
    types = [e["type"] for e in feed["items"]]
    assert types == [
        "nl.samen.procurement.tender.created",
        "nl.samen.procurement.tender.status-changed",
        "nl.samen.procurement.enrollment.enrolled",
        "nl.samen.procurement.enrollment.withdrawn",
    ]
    event = feed["items"][2]
    assert event["specversion"] == "1.0"
    assert event["source"] == "/procurement"
    assert event["subject"].startswith(f"tenders/{tender['id']}/enrollments/")
    assert event["data"]["municipalityOin"] == UTRECHT["oin"]
    # The mandate signer's name is personal data: not in the public feed.
    assert "de Vries" not in str(event)
    # The enrolled municipality reads its own events whole; other readers (another
    # municipality, a supplier) learn only that an enrollment of the tender changed.
    own = (await client.get("/v1/events", headers=headers)).json()["items"]
    assert own[2]["data"] == event["data"]
    supplier = issuer.headers(sub="s", scopes=["procurement:read"], org_id="68750110",
                              org_type="supplier")  # fmt: skip
    for reader in (municipality_headers(issuer, GRONINGEN), supplier):
        seen = (await client.get("/v1/events", headers=reader)).json()["items"]
        assert [e["type"] for e in seen] == types
        assert [e["id"] for e in seen] == [e["id"] for e in feed["items"]]
        for hidden in seen[2:]:
            assert hidden["data"] == {"tenderId": tender["id"],
                                      "enrollmentId": created.json()["id"]}  # fmt: skip
        assert seen[0]["data"] == feed["items"][0]["data"]  # tender events are public


async def test_an_abandoned_in_flight_idempotency_key_is_taken_over(
    app: Any,
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """A request that died mid-way leaves its key in flight; after the in-flight timeout a
    retry with the same key runs (this was a 500 before the servicekit fix)."""
    from datetime import UTC

    from procurement.db import idempotency_keys

    tender = await open_tender(client, registry, lead_headers)
    headers = {**municipality_headers(issuer, UTRECHT), "Idempotency-Key": "abandoned"}
    owner = f"enrollments|{UTRECHT['oin']}|staff-{UTRECHT['cbsCode']}"
    async with app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            idempotency_keys.insert().values(
                owner=owner,
                key="abandoned",
                request_hash="x" * 64,
                state="in-flight",
                created_at=datetime.now(UTC) - timedelta(minutes=5),
            )
        )
    response = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments", json=enrollment_body(tender), headers=headers
    )
    assert response.status_code == 201, response.text


async def test_desired_start_outside_the_joint_contract_is_400(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    """The tender plans 2030-01-01 for 48 months: 1999 and 2034 are refused, nothing written."""
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/enrollments"
    headers = municipality_headers(issuer, UTRECHT)
    for bad in ("1999-01-01", "2029-12-31", "2034-01-01"):
        response = await client.post(
            url, json=enrollment_body(tender, desiredStartDate=bad), headers=headers
        )
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["invalidParams"][0]["name"] == "lots[0].desiredStartDate"
    assert (await client.get(url, headers=lead_headers)).json()["total"] == 0
    for good in ("2030-01-01", "2033-12-31"):
        body = enrollment_body(tender, desiredStartDate=good)
        response = await client.post(
            url,
            json=body,
            headers=municipality_headers(issuer, GRONINGEN) if good == "2030-01-01" else headers,
        )
        assert response.status_code == 201, response.text
