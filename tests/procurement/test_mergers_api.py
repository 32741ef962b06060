"""A registry merger applied to enrollments: read from the registry, previewed, applied
once (transfers and folds, with history and events), and the ended municipality can no
longer enroll."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from servicekit.testing import TestIssuer

from .conftest import MUNICIPALITIES, FakeRegistry, mandate, municipality_headers, open_tender

EEMNES, BAARN, SOEST = (
    next(m for m in MUNICIPALITIES if m["cbsCode"] == code)
    for code in ("GM0317", "GM0308", "GM0342")
)


def operator(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(
        sub="vng-admin",
        scopes=["procurement:read", "procurement:manage"],
        org_id="00000001009876543000",
        org_type="operator",
    )


async def _enroll(
    client: httpx.AsyncClient, issuer: TestIssuer, tender: dict[str, Any], who: dict[str, Any],
    volumes: dict[int, int],
) -> dict[str, Any]:  # fmt: skip
    body = {
        "lots": [
            {"lotId": tender["lots"][i]["id"], "expectedVolume": v, "desiredStartDate": start}
            for i, (v, start) in {k: (v, f"2030-0{k + 1}-01") for k, v in volumes.items()}.items()
        ],
        "mandate": mandate(),
    }
    r = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments", json=body,
        headers=municipality_headers(issuer, who),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return dict(r.json())


def _merger(registry: FakeRegistry) -> str:
    """Eemnes and Baarn continue as Soest (the registry's record of it)."""
    merger_id = str(uuid.uuid4())
    registry.mergers[merger_id] = {
        "id": merger_id,
        "predecessorIds": [EEMNES["id"], BAARN["id"]],
        "successorId": SOEST["id"],
        "effectiveDate": "2026-01-01",
    }
    for org in (EEMNES, BAARN):
        registry.organisations[org["id"]] = {
            **org, "endedOn": "2025-12-31", "successorId": SOEST["id"]}  # fmt: skip
    return merger_id


async def test_preview_apply_once_and_the_ended_municipality_cannot_enroll(
    client: httpx.AsyncClient, registry: FakeRegistry, issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:  # fmt: skip
    shared = await open_tender(client, registry, lead_headers)
    only_eemnes = await open_tender(client, registry, lead_headers, title="Alleen Eemnes")
    eemnes = await _enroll(client, issuer, shared, EEMNES, {0: 10, 1: 5})
    baarn = await _enroll(client, issuer, shared, BAARN, {1: 3})
    soest = await _enroll(client, issuer, shared, SOEST, {0: 7})
    moved = await _enroll(client, issuer, only_eemnes, EEMNES, {0: 4})
    merger_id = _merger(registry)

    r = await client.post(
        "/v1/municipality-mergers?dryRun=true", json={"mergerId": merger_id},
        headers=operator(issuer),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    preview = r.json()
    assert (preview["dryRun"], preview["appliedBy"], preview["successorOin"]) == (
        True, None, SOEST["oin"])  # fmt: skip
    assert preview["transferredEnrollmentIds"] == [moved["id"]]
    assert sorted(preview["combinedEnrollmentIds"]) == sorted([eemnes["id"], baarn["id"]])
    r = await client.get(
        f"/v1/tenders/{only_eemnes['id']}/enrollments/{moved['id']}",
        headers=municipality_headers(issuer, EEMNES),
    )
    assert r.json()["status"] == "enrolled"  # the preview changed nothing
    r = await client.get(f"/v1/municipality-mergers/{merger_id}", headers=operator(issuer))
    assert r.status_code == 404

    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=operator(issuer)
    )
    assert r.status_code == 201, r.text
    applied = r.json()
    assert r.headers["location"] == f"/v1/municipality-mergers/{merger_id}"
    assert (applied["dryRun"], applied["appliedBy"]) == (False, "vng-admin")
    assert {**applied, "dryRun": True, "appliedBy": None, "appliedAt": None} == preview
    again = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=operator(issuer)
    )
    assert (again.status_code, again.json()) == (200, applied)
    r = await client.get(f"/v1/municipality-mergers/{merger_id}", headers=operator(issuer))
    assert r.json() == applied

    soest_headers = municipality_headers(issuer, SOEST)
    r = await client.get(f"/v1/tenders/{only_eemnes['id']}/enrollments/{moved['id']}",
                         headers=soest_headers)  # fmt: skip
    assert (r.json()["municipality"]["oin"], r.json()["status"]) == (SOEST["oin"], "enrolled")
    assert r.json()["municipality"]["name"] == "Soest"
    r = await client.get(f"/v1/tenders/{shared['id']}/enrollments/{soest['id']}",
                         headers=soest_headers)  # fmt: skip
    lots = {line["lotId"]: line for line in r.json()["lots"]}
    first, second = (lot["id"] for lot in shared["lots"])
    assert (lots[first]["expectedVolume"], lots[second]["expectedVolume"]) == (17, 8)
    assert lots[first]["desiredStartDate"] == "2030-01-01"
    r = await client.get(f"/v1/tenders/{shared['id']}/enrollments/{baarn['id']}",
                         headers=lead_headers)  # fmt: skip
    assert r.json()["status"] == "merged"
    demand = (await client.get(f"/v1/tenders/{shared['id']}/demand", headers=lead_headers)).json()
    assert demand["participants"] == 1
    assert sorted(lot["totalVolume"] for lot in demand["lots"]) == [8, 17]

    events = (await client.get("/v1/events", params={"limit": 100},
                               headers=lead_headers)).json()["items"]  # fmt: skip
    kinds = [e["type"].removeprefix("nl.samen.procurement.") for e in events]
    assert kinds.count("enrollment.transferred") == 1
    assert kinds.count("enrollment.combined") == 2
    assert kinds.count("enrollment.updated") == 2

    # The ended municipality's staff can no longer enroll, nor withdraw what merged.
    third = await open_tender(client, registry, lead_headers, title="Na de fusie")
    body = {"lots": [{"lotId": third["lots"][0]["id"], "expectedVolume": 1,
                      "desiredStartDate": "2030-01-01"}], "mandate": mandate()}  # fmt: skip
    r = await client.post(f"/v1/tenders/{third['id']}/enrollments", json=body,
                          headers=municipality_headers(issuer, BAARN))  # fmt: skip
    assert r.status_code == 409
    assert r.json()["type"].endswith("/organisation-ended")
    r = await client.post(
        f"/v1/tenders/{shared['id']}/enrollments/{baarn['id']}/withdrawal",
        headers={**municipality_headers(issuer, BAARN), "If-Match": "*"},
    )  # fmt: skip
    assert r.status_code == 409


async def test_nothing_to_move_without_oins(
    client: httpx.AsyncClient, registry: FakeRegistry, issuer: TestIssuer
) -> None:
    """Municipalities without an OIN never enrolled: the merger applies, moving nothing."""
    merger_id = _merger(registry)
    for org in (EEMNES, BAARN, SOEST):
        registry.organisations[org["id"]] = {**registry.organisations[org["id"]], "oin": None}
    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=operator(issuer)
    )
    assert r.status_code == 201, r.text
    assert (r.json()["successorOin"], r.json()["transferredEnrollmentIds"]) == (None, [])


async def test_apply_errors(
    client: httpx.AsyncClient, registry: FakeRegistry, issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:  # fmt: skip
    tender = await open_tender(client, registry, lead_headers)
    await _enroll(client, issuer, tender, EEMNES, {0: 1})
    merger_id = _merger(registry)
    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=lead_headers
    )
    assert r.status_code == 403
    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": str(uuid.uuid4())}, headers=operator(issuer)
    )
    assert r.status_code == 400
    assert r.json()["invalidParams"][0]["name"] == "mergerId"
    r = await client.post("/v1/municipality-mergers", json={}, headers=operator(issuer))
    assert r.status_code == 400
    # A successor without an OIN cannot hold the enrollments there are.
    registry.organisations[SOEST["id"]] = {**SOEST, "oin": None}
    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=operator(issuer)
    )
    assert r.status_code == 409
    registry.down = True
    registry.organisations[SOEST["id"]] = SOEST
    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=operator(issuer)
    )
    assert r.status_code == 503


async def test_a_withdrawn_successor_takes_only_the_predecessors_lines(
    client: httpx.AsyncClient, registry: FakeRegistry, issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:  # fmt: skip
    """Soest withdrew its 500; Eemnes' 10 pass to it, the withdrawn 500 do not come back."""
    tender = await open_tender(client, registry, lead_headers)
    soest_headers = municipality_headers(issuer, SOEST)
    soest = await _enroll(client, issuer, tender, SOEST, {0: 500, 1: 20})
    r = await client.get(f"/v1/tenders/{tender['id']}/enrollments/{soest['id']}",
                         headers=soest_headers)  # fmt: skip
    r = await client.post(
        f"/v1/tenders/{tender['id']}/enrollments/{soest['id']}/withdrawal",
        headers={**soest_headers, "If-Match": r.headers["etag"]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    body = {"lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 10,
                      "desiredStartDate": "2030-03-01"}],
            "mandate": mandate(signer="E. Eemnes")}  # fmt: skip
    r = await client.post(f"/v1/tenders/{tender['id']}/enrollments", json=body,
                          headers=municipality_headers(issuer, EEMNES))  # fmt: skip
    assert r.status_code == 201, r.text
    merger_id = str(uuid.uuid4())
    registry.mergers[merger_id] = {
        "id": merger_id, "predecessorIds": [EEMNES["id"]], "successorId": SOEST["id"],
        "effectiveDate": "2026-01-01"}  # fmt: skip
    registry.organisations[EEMNES["id"]] = {
        **EEMNES, "endedOn": "2025-12-31", "successorId": SOEST["id"]}  # fmt: skip
    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=operator(issuer)
    )
    assert r.status_code == 201, r.text

    r = await client.get(f"/v1/tenders/{tender['id']}/enrollments/{soest['id']}",
                         headers=soest_headers)  # fmt: skip
    got = r.json()
    assert got["status"] == "enrolled"
    assert [(x["lotId"], x["expectedVolume"], x["desiredStartDate"]) for x in got["lots"]] == [
        (tender["lots"][0]["id"], 10, "2030-03-01")]  # fmt: skip
    # The mandate in force is the one Eemnes signed for those lines, not Soest's old one.
    assert got["mandate"]["signerName"] == "E. Eemnes"
    assert got["mandate"]["scope"]["lotIds"] == [tender["lots"][0]["id"]]
    demand = (await client.get(f"/v1/tenders/{tender['id']}/demand", headers=lead_headers)).json()
    assert demand["participants"] == 1
    assert [lot["totalVolume"] for lot in demand["lots"]] == [10, 0]


async def test_an_ended_municipality_cannot_enroll_while_the_registry_is_down(
    client: httpx.AsyncClient, registry: FakeRegistry, issuer: TestIssuer,
    lead_headers: dict[str, str],
) -> None:  # fmt: skip
    """The applied merger stored here says Eemnes ended, when the registry cannot."""
    tender = await open_tender(client, registry, lead_headers)
    await _enroll(client, issuer, tender, SOEST, {0: 10})
    eemnes = await _enroll(client, issuer, tender, EEMNES, {0: 10})
    other = await open_tender(client, registry, lead_headers, title="Na de fusie")
    merger_id = _merger(registry)
    r = await client.post(
        "/v1/municipality-mergers", json={"mergerId": merger_id}, headers=operator(issuer)
    )
    assert r.status_code == 201, r.text
    registry.down = True
    for t in (tender, other):  # its merged row, and a tender it never enrolled in
        body = {"lots": [{"lotId": t["lots"][0]["id"], "expectedVolume": 10,
                          "desiredStartDate": "2030-02-01"}], "mandate": mandate()}  # fmt: skip
        r = await client.post(f"/v1/tenders/{t['id']}/enrollments", json=body,
                              headers=municipality_headers(issuer, EEMNES))  # fmt: skip
        assert r.status_code == 409, r.text
        assert r.json()["type"].endswith("/organisation-ended")
    registry.down = False
    r = await client.get(f"/v1/tenders/{tender['id']}/enrollments/{eemnes['id']}",
                         headers=lead_headers)  # fmt: skip
    assert r.json()["status"] == "merged"
    demand = (await client.get(f"/v1/tenders/{tender['id']}/demand", headers=lead_headers)).json()
    assert (demand["participants"], demand["lots"][0]["totalVolume"]) == (1, 20)
    r = await client.get(f"/v1/tenders/{other['id']}/enrollments", headers=lead_headers)
    assert r.json()["total"] == 0
