"""Usages: only the municipality's own staff, date rules, references, status moves."""

from __future__ import annotations

from typing import Any

import httpx

Maker = Any


async def _world(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> dict[str, Any]:
    utrecht = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    amersfoort = await make_org("municipality", name="Amersfoort", oin=tokens.AMERSFOORT_OIN)
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    facility = await make_facility()
    other_facility = await make_facility()
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": "O", "priceModel": "free"},
        headers=tokens.supplier(),
    )
    offering = r.json()
    r = await client.post(
        f"/v1/offerings/{offering['id']}/versions",
        json={"version": "1", "releaseDate": "2024-01-01"},
        headers=tokens.supplier(),
    )
    return {
        "utrecht": utrecht,
        "amersfoort": amersfoort,
        "facility": facility,
        "other_facility": other_facility,
        "offering": offering,
        "version": r.json(),
    }


async def test_municipality_registers_its_usage(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    body = {
        "municipalityId": w["utrecht"]["id"],
        "facilityId": w["facility"]["id"],
        "offeringId": w["offering"]["id"],
        "versionId": w["version"]["id"],
        "status": "active",
        "startDate": "2024-01-01",
        "contractEndDate": "2027-06-30",
        "noticePeriodMonths": 6,
        "contractValueBand": "215k-750k",
    }
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
    assert r.status_code == 201, r.text
    usage = r.json()
    assert r.headers["location"] == f"/v1/usages/{usage['id']}"
    expected = {"id", "municipalityId", "facilityId", "offeringId", "versionId", "status",
                "startDate", "contractEndDate", "noticePeriodMonths", "contractValueBand"}  # fmt: skip
    assert expected <= set(usage)
    for params in (
        {"municipalityId": w["utrecht"]["id"]},
        {"facilityId": w["facility"]["id"]},
        {"status": "active"},
        {"offeringId": w["offering"]["id"]},
    ):
        r = await client.get("/v1/usages", params=params, headers=tokens.reader())
        assert [u["id"] for u in r.json()["items"]] == [usage["id"]], params
    r = await client.get("/v1/usages?status=gone", headers=tokens.reader())
    assert r.status_code == 400
    # A second current usage of the same facility is a conflict, named on its status.
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
    assert r.status_code == 409
    assert r.json()["invalidParams"] == [{"name": "status", "reason": "an active usage exists"}]


async def test_a_misspelt_filter_is_400_not_the_unfiltered_list(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    """make fuzz: every list answered 200 to a query parameter it does not have, so
    ``?municipalityid=`` (for ``municipalityId``) gave every municipality's usages as if
    filtered. It is a 400 naming the parameter; a write with one stores nothing."""
    w = await _world(client, tokens, make_org, make_facility)
    body = {"municipalityId": w["utrecht"]["id"], "facilityId": w["facility"]["id"]}
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
    assert r.status_code == 201, r.text
    r = await client.get(
        "/v1/usages", params={"municipalityid": w["amersfoort"]["id"]}, headers=tokens.reader()
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["invalidParams"] == [
        {"name": "municipalityid", "reason": "not a parameter of this operation"}
    ]
    other = {**body, "facilityId": w["other_facility"]["id"]}
    r = await client.post("/v1/usages?dryrun=true", json=other, headers=tokens.municipality())
    assert r.status_code == 400, r.text
    assert [p["name"] for p in r.json()["invalidParams"]] == ["dryrun"]
    r = await client.get("/v1/usages", headers=tokens.reader())
    assert [u["facilityId"] for u in r.json()["items"]] == [w["facility"]["id"]]


async def test_only_own_staff(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    body = {"municipalityId": w["utrecht"]["id"], "facilityId": w["facility"]["id"]}
    for headers in (
        tokens.municipality(oin=tokens.AMERSFOORT_OIN),
        tokens.operator(),
        tokens.supplier(),
        tokens.reader(),
    ):
        r = await client.post("/v1/usages", json=body, headers=headers)
        assert r.status_code == 403, headers
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
    usage = r.json()
    r = await client.patch(
        f"/v1/usages/{usage['id']}",
        json={"status": "ended"},
        headers={**tokens.municipality(oin=tokens.AMERSFOORT_OIN), "If-Match": "*"},
    )
    assert r.status_code == 403
    # A municipality without an OIN has nobody who may write for it.
    no_oin = await make_org("municipality")
    r = await client.post(
        "/v1/usages",
        json={"municipalityId": no_oin["id"], "facilityId": w["facility"]["id"]},
        headers=tokens.municipality(),
    )
    assert r.status_code == 403


async def test_bad_usage_input(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    base = {"municipalityId": w["utrecht"]["id"], "facilityId": w["facility"]["id"]}
    cases = [
        ({**base, "startDate": "2025-01-01", "contractEndDate": "2024-12-31"}, "contractEndDate"),
        ({**base, "noticePeriodMonths": -1}, "noticePeriodMonths"),
        ({**base, "noticePeriodMonths": 61}, "noticePeriodMonths"),
        ({**base, "noticePeriodMonths": "6"}, "noticePeriodMonths"),
        ({**base, "noticePeriodMonths": True}, "noticePeriodMonths"),
        ({**base, "status": "paused"}, "status"),
        ({**base, "contractValueBand": "lots"}, "contractValueBand"),
        # A string is not an amount: "10.000" would be read as ten.
        ({**base, "annualCost": "10.000"}, "annualCost"),
        ({**base, "annualCost": True}, "annualCost"),
        ({**base, "contractEndDate": "2027-02-30"}, "contractEndDate"),
        ({**base, "facilityId": "00000000-0000-0000-0000-000000000001"}, "facilityId"),
        ({**base, "municipalityId": w["facility"]["id"]}, "municipalityId"),
        ({**base, "versionId": w["version"]["id"]}, "offeringId"),
        (
            {**base, "facilityId": w["other_facility"]["id"], "offeringId": w["offering"]["id"]},
            "offeringId",
        ),
    ]
    for body, name in cases:
        r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
        assert r.status_code == 400, (body, r.text)
        assert name in {p["name"] for p in r.json()["invalidParams"]}, (body, r.json())
    assert (await client.get("/v1/usages", headers=tokens.reader())).json()["total"] == 0


async def test_status_moves_forward_and_ended_frees_the_slot(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    body = {
        "municipalityId": w["utrecht"]["id"],
        "facilityId": w["facility"]["id"],
        "status": "planned",
    }
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
    usage = r.json()
    url = f"/v1/usages/{usage['id']}"
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    r = await client.patch(url, json={"status": "active"}, headers=tokens.municipality())
    assert r.status_code == 428
    r = await client.patch(
        url, json={"status": "active"}, headers={**tokens.municipality(), "If-Match": etag}
    )
    assert r.status_code == 200
    etag = r.headers["etag"]
    r = await client.patch(
        url, json={"status": "planned"}, headers={**tokens.municipality(), "If-Match": etag}
    )
    assert r.status_code == 409
    r = await client.patch(
        url, json={"startDate": "2026-01-01", "contractEndDate": "2025-01-01"},
        headers={**tokens.municipality(), "If-Match": etag},
    )  # fmt: skip
    assert r.status_code == 400
    r = await client.patch(
        url, json={"status": "ended"}, headers={**tokens.municipality(), "If-Match": etag}
    )
    assert r.status_code == 200
    # Once ended, a new current usage of the same facility may be registered.
    r = await client.post("/v1/usages", json=body, headers=tokens.municipality())
    assert r.status_code == 201


async def test_concurrent_duplicates_create_one(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    import asyncio

    w = await _world(client, tokens, make_org, make_facility)
    body = {"municipalityId": w["utrecht"]["id"], "facilityId": w["other_facility"]["id"]}
    results = await asyncio.gather(
        *(client.post("/v1/usages", json=body, headers=tokens.municipality()) for _ in range(4))
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
    r = await client.get(
        f"/v1/usages?facilityId={w['other_facility']['id']}", headers=tokens.reader()
    )
    assert r.json()["total"] == 1


async def test_planned_follow_up_beside_the_current_contract(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    current = {"municipalityId": w["utrecht"]["id"], "facilityId": w["facility"]["id"],
               "status": "active", "startDate": "2024-01-01", "contractEndDate": "2027-06-30"}  # fmt: skip
    r = await client.post("/v1/usages", json=current, headers=tokens.municipality())
    assert r.status_code == 201
    old = r.json()
    follow_up = {**current, "status": "planned", "startDate": "2027-06-30",
                 "contractEndDate": "2031-06-30", "offeringId": w["offering"]["id"]}  # fmt: skip
    r = await client.post("/v1/usages", json=follow_up, headers=tokens.municipality())
    assert r.status_code == 201, r.text
    new = r.json()
    early = {**follow_up, "startDate": "2027-01-01"}
    r = await client.post("/v1/usages", json=early, headers=tokens.municipality())
    assert r.status_code == 409
    assert r.json()["existingId"] in {old["id"], new["id"]}
    # Moving the follow-up's start into the current contract is refused too.
    url = f"/v1/usages/{new['id']}"
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    headers = {**tokens.municipality(), "If-Match": etag}
    r = await client.patch(url, json={"startDate": "2027-01-01"}, headers=headers)
    assert r.status_code == 409
    # It cannot become active while the old contract is; once that ended, it can.
    r = await client.patch(url, json={"status": "active"}, headers=headers)
    assert r.status_code == 409
    assert r.json()["existingId"] == old["id"]
    old_url = f"/v1/usages/{old['id']}"
    old_etag = (await client.get(old_url, headers=tokens.reader())).headers["etag"]
    r = await client.patch(old_url, json={"status": "ended"},
                           headers={**tokens.municipality(), "If-Match": old_etag})  # fmt: skip
    assert r.status_code == 200
    r = await client.patch(url, json={"status": "active"}, headers=headers)
    assert r.status_code == 200, r.text
    r = await client.get(f"/v1/usages?municipalityId={w['utrecht']['id']}", headers=tokens.reader())
    assert {(u["id"], u["status"]) for u in r.json()["items"]} == {
        (old["id"], "ended"), (new["id"], "active")}  # fmt: skip
