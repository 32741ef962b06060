"""Tenders, lots and the lifecycle: registry checks, ownership, forward-only moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from servicekit.testing import TestIssuer

from .conftest import OTHER_COOP_OIN, Clock, FakeRegistry, open_tender, tender_body


async def test_create_tender_checks_registry_and_records_lots(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    response = await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/tenders/{body['id']}"
    assert response.headers["etag"]
    assert body["status"] == "draft"
    assert body["facility"]["name"] == "Gezamenlijke telefonie"
    assert body["leadParty"]["oin"] == registry.lead["oin"]
    assert [lot["number"] for lot in body["lots"]] == [1, 2]
    assert body["lots"][1]["estimatedValue"] == {"amount": 800000.0, "currency": "EUR"}
    assert registry.token_requests == 1  # one client_credentials token, then cached

    second = await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    assert second.status_code == 201
    assert registry.token_requests == 1

    listing = await client.get("/v1/tenders?status=draft", headers=lead_headers)
    assert listing.json()["total"] == 2


async def test_a_window_that_closed_or_closes_before_it_opens_is_refused_at_creation(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    cases = {
        "lies in the past": {"enrollmentOpensAt": (now - timedelta(days=9)).isoformat(),
                             "enrollmentClosesAt": (now - timedelta(days=2)).isoformat()},
        "not after opensAt": {"enrollmentOpensAt": (now + timedelta(days=9)).isoformat(),
                              "enrollmentClosesAt": (now + timedelta(days=2)).isoformat()},
    }  # fmt: skip
    for reason, dates in cases.items():
        refused = await client.post(
            "/v1/tenders", json=tender_body(registry, **dates), headers=lead_headers
        )
        assert refused.status_code == 400, refused.text
        assert {"name": "enrollmentClosesAt", "reason": reason} in refused.json()["invalidParams"]
    listing = await client.get("/v1/tenders?status=draft", headers=lead_headers)
    assert listing.json()["total"] == 0


async def test_unknown_or_retired_facility_is_bad_input(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    unknown = tender_body(registry, facilityId="6f1b5f4e-8d1c-4c3e-9a53-3f9d2f1c0a11")
    response = await client.post("/v1/tenders", json=unknown, headers=lead_headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalidParams"][0]["name"] == "facilityId"

    retired = tender_body(registry, facilityId=registry.retired["id"])
    response = await client.post("/v1/tenders", json=retired, headers=lead_headers)
    assert response.status_code == 400

    supplier = tender_body(registry, leadPartyId=registry.supplier["id"])
    response = await client.post("/v1/tenders", json=supplier, headers=lead_headers)
    assert response.status_code == 400
    assert response.json()["invalidParams"][0]["name"] == "leadPartyId"


async def test_bad_window_and_validation_are_400_not_422(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    body = tender_body(
        registry,
        enrollmentOpensAt=now.isoformat(),
        enrollmentClosesAt=(now - timedelta(days=1)).isoformat(),
    )
    response = await client.post("/v1/tenders", json=body, headers=lead_headers)
    assert response.status_code == 400
    body = tender_body(registry, enrollmentClosesAt="2030-01-01T00:00:00")  # naive: refused
    response = await client.post("/v1/tenders", json=body, headers=lead_headers)
    assert response.status_code == 400
    assert any("enrollmentClosesAt" in p["name"] for p in response.json()["invalidParams"])
    body = tender_body(registry, procedure="auction")
    assert (await client.post("/v1/tenders", json=body, headers=lead_headers)).status_code == 400
    # A title is a line of text: not blank, no control characters or direction overrides.
    for title in ("   ", "a\u0001b", "Telefonie\u202egpj.exe", "two\nlines"):
        response = await client.post(
            "/v1/tenders", json=tender_body(registry, title=title), headers=lead_headers
        )
        assert response.status_code == 400, (title, response.text)
        assert [p["name"] for p in response.json()["invalidParams"]] == ["title"]
    body = tender_body(registry, title="  Telefonie 2030 ", description="Regel 1\nRegel 2\tx")
    created = await client.post("/v1/tenders", json=body, headers=lead_headers)
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "Telefonie 2030"
    assert created.json()["description"] == "Regel 1\nRegel 2\tx"
    # An integer is a JSON integer: "48" and true (which would be read as 1) are refused.
    for months in ("48", True):
        body = tender_body(registry, contractDurationMonths=months)
        response = await client.post("/v1/tenders", json=body, headers=lead_headers)
        assert response.status_code == 400, (months, response.text)
        assert [p["name"] for p in response.json()["invalidParams"]] == ["contractDurationMonths"]


async def test_only_lead_party_staff_may_create_and_manage(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:
    other = issuer.headers(
        scopes=["procurement:read", "procurement:manage"],
        org_id=OTHER_COOP_OIN,
        org_type="cooperation",
    )
    response = await client.post("/v1/tenders", json=tender_body(registry), headers=other)
    assert response.status_code == 403

    no_scope = issuer.headers(scopes=["procurement:read"], org_id=registry.lead["oin"])
    response = await client.post("/v1/tenders", json=tender_body(registry), headers=no_scope)
    assert response.status_code == 403
    assert response.json()["requiredScopes"] == ["procurement:manage"]

    assert (await client.get(f"/v1/tenders/{uuid.uuid4()}/enrollments")).status_code == 401

    created = await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    tender_id = created.json()["id"]
    response = await client.post(f"/v1/tenders/{tender_id}/publication", headers=other)
    assert response.status_code == 403
    response = await client.post(
        f"/v1/tenders/{tender_id}/lots", json={"title": "x", "unit": "y"}, headers=other
    )
    assert response.status_code == 403


async def test_lifecycle_is_forward_only_and_recorded(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    tid = tender["id"]
    assert tender["status"] == "open-for-enrollment"
    # Backwards or skipping ahead: 409 with the status and the required one.
    response = await client.post(f"/v1/tenders/{tid}/publication", headers=lead_headers)
    assert response.status_code == 409
    assert response.json()["status"] == 409  # the HTTP status; the tender's is beside it
    assert response.json()["tenderStatus"] == "open-for-enrollment"
    response = await client.post(f"/v1/tenders/{tid}/award", headers=lead_headers)
    assert response.status_code == 409
    assert response.json()["requiredStatus"] == "tendering"

    for step, status in (
        ("enrollment-closure", "enrollment-closed"),
        ("tendering", "tendering"),
        ("award", "awarded"),
        ("contracting", "contracted"),
    ):
        response = await client.post(
            f"/v1/tenders/{tid}/{step}", json={"reason": f"step {step}"}, headers=lead_headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status

    response = await client.post(
        f"/v1/tenders/{tid}/cancellation", json={"reason": "too late"}, headers=lead_headers
    )
    assert response.status_code == 409  # contracted is final

    history = (await client.get(f"/v1/tenders/{tid}/history", headers=lead_headers)).json()
    actions = [h["action"] for h in history["items"]]
    assert actions == [
        "created",
        "publication",
        "enrollment-closure",
        "tendering",
        "award",
        "contracting",
    ]
    award = history["items"][4]
    assert award["actorSubject"] == "lead-staff"
    assert award["actorOrgId"] == registry.lead["oin"]
    assert award["reason"] == "step award"
    assert (award["fromStatus"], award["toStatus"]) == ("tendering", "awarded")


async def test_cancellation_needs_a_reason(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    url = f"/v1/tenders/{tender['id']}/cancellation"
    assert (await client.post(url, json={}, headers=lead_headers)).status_code == 400
    response = await client.post(url, json={"reason": "budget withdrawn"}, headers=lead_headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancellationReason"] == "budget withdrawn"
    assert (
        await client.post(url, json={"reason": "again"}, headers=lead_headers)
    ).status_code == 409


async def test_opening_needs_a_lot_and_a_future_close(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    lead_headers: dict[str, str],
    clock: Clock,
) -> None:
    created = await client.post(
        "/v1/tenders", json=tender_body(registry, lots=[]), headers=lead_headers
    )
    tid = created.json()["id"]
    response = await client.post(f"/v1/tenders/{tid}/publication", headers=lead_headers)
    assert response.status_code == 409
    assert response.json()["invalidParams"][0]["name"] == "lots"

    lot = await client.post(
        f"/v1/tenders/{tid}/lots", json={"title": "Perceel 1", "unit": "seat"}, headers=lead_headers
    )
    assert lot.status_code == 201
    assert lot.json()["number"] == 1
    assert lot.headers["location"].endswith(lot.json()["id"])

    clock.fixed = datetime.now(UTC) + timedelta(days=31)  # past the closing time
    response = await client.post(f"/v1/tenders/{tid}/publication", headers=lead_headers)
    assert response.status_code == 409
    assert response.json()["invalidParams"][0]["name"] == "enrollmentClosesAt"


async def test_window_closes_by_time_without_a_call(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    lead_headers: dict[str, str],
    clock: Clock,
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    tid = tender["id"]
    closes = datetime.fromisoformat(tender["enrollmentClosesAt"])
    clock.fixed = closes
    response = await client.get(f"/v1/tenders/{tid}", headers=lead_headers)
    assert response.json()["status"] == "enrollment-closed"
    listing = await client.get("/v1/tenders?status=enrollment-closed", headers=lead_headers)
    assert [t["id"] for t in listing.json()["items"]] == [tid]
    # Closing again is refused; tendering may start straight away.
    response = await client.post(f"/v1/tenders/{tid}/enrollment-closure", headers=lead_headers)
    assert response.status_code == 409
    response = await client.post(f"/v1/tenders/{tid}/tendering", headers=lead_headers)
    assert response.status_code == 200
    history = (await client.get(f"/v1/tenders/{tid}/history", headers=lead_headers)).json()
    closed = [h for h in history["items"] if h["action"] == "enrollment-closed-by-time"]
    assert len(closed) == 1
    assert closed[0]["actorSubject"] == "system:enrollment-window"


async def test_patch_draft_requires_if_match(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    created = await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    tid, etag = created.json()["id"], created.headers["etag"]
    patch = {"title": "Nieuwe titel"}
    response = await client.patch(f"/v1/tenders/{tid}", json=patch, headers=lead_headers)
    assert response.status_code == 428
    stale = {**lead_headers, "If-Match": '"stale"'}
    assert (await client.patch(f"/v1/tenders/{tid}", json=patch, headers=stale)).status_code == 412
    fresh = {**lead_headers, "If-Match": etag}
    # A bad member is named as the member (not as the union member pydantic tried), once.
    for bad, reason in (
        ({"title": "   "}, "at least 1 character"),
        ({"contractDurationMonths": 0}, "greater than or equal to 1"),
        ({"enrollmentClosesAt": 12345}, "ISO 8601"),
    ):
        response = await client.patch(f"/v1/tenders/{tid}", json=bad, headers=fresh)
        assert response.status_code == 400, response.text
        [param] = response.json()["invalidParams"]
        assert param["name"] == next(iter(bad)), param
        assert reason in param["reason"], param
    response = await client.patch(f"/v1/tenders/{tid}", json=patch, headers=fresh)
    assert response.status_code == 200
    assert response.json()["title"] == "Nieuwe titel"
    assert response.headers["etag"] != etag
    # Once open, the tender's terms are fixed.
    await client.post(f"/v1/tenders/{tid}/publication", headers=lead_headers)
    latest = (await client.get(f"/v1/tenders/{tid}", headers=lead_headers)).headers["etag"]
    again = {**lead_headers, "If-Match": latest}
    assert (await client.patch(f"/v1/tenders/{tid}", json=patch, headers=again)).status_code == 409


async def test_registry_down_on_create_is_503_with_retry_after(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    registry.down = True
    response = await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.headers["content-type"] == "application/problem+json"
    registry.down = False
    listing = await client.get("/v1/tenders", headers=lead_headers)
    assert listing.json()["total"] == 0


async def test_create_tender_is_idempotent(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    headers = {**lead_headers, "Idempotency-Key": "tender-1"}
    body = tender_body(registry)
    first = await client.post("/v1/tenders", json=body, headers=headers)
    second = await client.post("/v1/tenders", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert (await client.get("/v1/tenders", headers=lead_headers)).json()["total"] == 1


async def test_inconsistent_amounts_and_dates_are_400_and_write_nothing(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    lots = [
        {"title": "Vast", "unit": "aansluiting", "estimatedValue": {"amount": 2000000}},
        {"title": "Mobiel", "unit": "abonnement"},
    ]
    cases = {
        "lots[0].estimatedValue": tender_body(registry, lots=lots),
        "lots": tender_body(
            registry,
            lots=[
                {"title": "A", "unit": "u", "estimatedValue": {"amount": 700000}},
                {"title": "B", "unit": "u", "estimatedValue": {"amount": 700000}},
            ],
        ),
        "plannedStartDate": tender_body(registry, plannedStartDate="2020-01-01"),
        # Its end would lie past 9999-12-31: refused, not a 500 in its OCDS release later.
        "contractDurationMonths": tender_body(
            registry, plannedStartDate="9999-01-01", contractDurationMonths=240
        ),
    }
    for name, body in cases.items():
        response = await client.post("/v1/tenders", json=body, headers=lead_headers)
        assert response.status_code == 400, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [p["name"] for p in response.json()["invalidParams"]] == [name]
    assert (await client.get("/v1/tenders", headers=lead_headers)).json()["total"] == 0

    created = await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    tender = created.json()
    url = f"/v1/tenders/{tender['id']}"
    # The second lot holds 800 000 of 1 200 000: a third lot of 500 000 is too much …
    lot = {"title": "Extra", "unit": "u", "estimatedValue": {"amount": 500000}}
    response = await client.post(f"{url}/lots", json=lot, headers=lead_headers)
    assert response.status_code == 400
    assert response.json()["invalidParams"][0]["name"] == "estimatedValue"
    # … and so is lowering the tender below its lots, or starting in the past.
    for patch, name in (
        ({"estimatedValue": {"amount": 700000}}, "estimatedValue"),
        ({"plannedStartDate": "2020-01-01"}, "plannedStartDate"),
        ({"plannedStartDate": "9999-06-01"}, "contractDurationMonths"),
    ):
        headers = {**lead_headers, "If-Match": created.headers["etag"]}
        response = await client.patch(url, json=patch, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["invalidParams"][0]["name"] == name
    after = (await client.get(url, headers=lead_headers)).json()
    assert after["version"] == tender["version"]
    assert len(after["lots"]) == 2


async def test_enrollment_cannot_close_before_it_opened(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    """Closing then would put the window's end before its start: 409, cancel instead."""
    opens = datetime.now(UTC) + timedelta(days=5)
    tender = await open_tender(client, registry, lead_headers, enrollmentOpensAt=opens.isoformat())
    tid = tender["id"]
    current = await client.get(f"/v1/tenders/{tid}", headers=lead_headers)
    response = await client.post(
        f"/v1/tenders/{tid}/enrollment-closure",
        headers={**lead_headers, "If-Match": current.headers["etag"]},
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/enrollment-window-not-open")
    assert datetime.fromisoformat(response.json()["opensAt"]) == opens
    after = await client.get(f"/v1/tenders/{tid}", headers=lead_headers)
    assert after.json() == current.json()  # nothing written
    assert after.headers["etag"] == current.headers["etag"]
    response = await client.post(
        f"/v1/tenders/{tid}/cancellation", json={"reason": "te vroeg"},
        headers={**lead_headers, "If-Match": current.headers["etag"]},
    )  # fmt: skip
    assert response.json()["status"] == "cancelled"
