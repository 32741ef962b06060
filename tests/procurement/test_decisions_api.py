"""Decisions ahead: the registry's radar of a municipality (faked over HTTP) joined with this
service's planned and open tenders for the contract's facility or its alternatives."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .conftest import (
    MUNICIPALITIES,
    FakeRegistry,
    municipality_headers,
    open_tender,
    tender_body,
)

UTRECHT = next(m for m in MUNICIPALITIES if m["cbsCode"] == "GM0344")


def _radar_item(facility: dict[str, Any], alternatives: list[dict[str, Any]], end: str,
                deadline: str) -> dict[str, Any]:  # fmt: skip
    return {
        "usageId": str(uuid.uuid4()), "facilityId": facility["id"], "facilityName": facility["name"],
        "theme": "telefonie", "offeringId": None, "contractEndDate": end, "noticePeriodMonths": 6,
        "noticeDeadline": deadline, "noticeDeadlinePassed": False,
        "alternatives": [{"facilityId": a["id"], "slug": a["slug"], "name": a["name"],
                          "stage": a["stage"]} for a in alternatives],
    }  # fmt: skip


async def test_deadlines_with_facilities_and_tenders(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    own = {"id": str(uuid.uuid4()), "slug": "eigen-centrale", "name": "Eigen centrale",
           "kind": "agreement", "stage": "operational"}  # fmt: skip
    registry.facilities[own["id"]] = own
    registry.radars[UTRECHT["id"]] = [
        _radar_item(own, [registry.facility], "2027-06-30", "2026-12-31"),
        _radar_item(registry.retired, [], "2028-01-31", "2027-07-31"),
    ]
    # An open tender for the collective facility, a draft for the own one, and tenders that
    # cannot replace anything: for another facility, or cancelled.
    opened = await open_tender(client, registry, lead_headers)
    r = await client.post("/v1/tenders", json=tender_body(registry, facilityId=own["id"],
                          title="Centrale opnieuw"), headers=lead_headers)  # fmt: skip
    assert r.status_code == 201, r.text
    draft = r.json()
    other = {**own, "id": str(uuid.uuid4()), "slug": "ander"}
    registry.facilities[other["id"]] = other
    r = await client.post("/v1/tenders", json=tender_body(registry, facilityId=other["id"]),
                          headers=lead_headers)  # fmt: skip
    assert r.status_code == 201
    r = await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    cancelled = r.json()
    r = await client.post(f"/v1/tenders/{cancelled['id']}/cancellation", json={"reason": "dubbel"},
                          headers={**lead_headers, "If-Match": r.headers["etag"]})  # fmt: skip
    assert r.status_code == 200, r.text

    r = await client.get(f"/v1/decisions-ahead?municipalityId={UTRECHT['id']}&within=P2Y",
                         headers=lead_headers)  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2
    first, second = body["items"]
    assert (first["facilityName"], first["noticeDeadline"]) == ("Eigen centrale", "2026-12-31")
    assert [f["name"] for f in first["collectiveFacilities"]] == ["Gezamenlijke telefonie"]
    assert sorted((t["tenderId"], t["status"]) for t in first["tenders"]) == sorted(
        [(opened["id"], "open-for-enrollment"), (draft["id"], "draft")])  # fmt: skip
    assert (second["collectiveFacilities"], second["tenders"]) == ([], [])
    assert any(c.endswith(f"/v1/organisations/{UTRECHT['id']}/radar") for c in registry.calls)


async def test_bad_input_unknown_municipality_and_registry_outage(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    url = "/v1/decisions-ahead"
    for query in ("", f"?municipalityId={UTRECHT['id']}&within=18M",
                  f"?municipalityId={UTRECHT['id']}&within=P30Y", "?municipalityId=x"):  # fmt: skip
        r = await client.get(url + query, headers=lead_headers)
        assert r.status_code == 400, query
        assert r.headers["content-type"] == "application/problem+json"
    r = await client.get(f"{url}?municipalityId={registry.lead['id']}", headers=lead_headers)
    assert (r.status_code, r.json()["invalidParams"][0]["name"]) == (400, "municipalityId")
    r = await client.get(f"{url}?municipalityId={uuid.uuid4()}", headers=lead_headers)
    assert r.status_code == 404
    registry.down = True
    registry.radars[UTRECHT["id"]] = []
    r = await client.get(f"{url}?municipalityId={UTRECHT['id']}", headers=lead_headers)
    assert r.status_code == 503
    assert r.headers["retry-after"]


async def test_only_whom_the_contracts_are_may_read_them(
    client: httpx.AsyncClient, registry: FakeRegistry, issuer: Any
) -> None:
    """The radar is read with this service's registry:contracts token: it is handed only to
    the municipality's own staff, the operator and holders of registry:contracts."""
    registry.radars[UTRECHT["id"]] = [
        _radar_item(registry.facility, [], "2027-06-30", "2026-12-31")
    ]
    url = f"/v1/decisions-ahead?municipalityId={UTRECHT['id']}&within=P2Y"
    other = next(m for m in MUNICIPALITIES if m["oin"] != UTRECHT["oin"])
    refused = [
        municipality_headers(issuer, other),
        issuer.headers(sub="lead", scopes=["procurement:read", "procurement:manage"],
                       org_id="00000001999999999000", org_type="cooperation"),
        issuer.headers(sub="supplier", scopes=["procurement:read"], org_id="90000001",
                       org_type="supplier"),
    ]  # fmt: skip
    for headers in refused:
        r = await client.get(url, headers=headers)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == "application/problem+json"
    allowed = [
        municipality_headers(issuer, UTRECHT),
        issuer.headers(sub="admin", scopes=["procurement:read"], org_id="00000001000000000000",
                       org_type="operator"),
        issuer.headers(sub="planner", scopes=["procurement:read", "registry:contracts"]),
    ]  # fmt: skip
    for headers in allowed:
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        assert [i["contractEndDate"] for i in r.json()["items"]] == ["2027-06-30"]
