"""Object-level authorisation on writes: a valid token with the right scopes, but of
another organisation, can neither change nor (where private) read the first one's data;
and a refused write changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from seckit import (
    FACILITY_ID,
    LEAD_ID,
    LEAD_OIN,
    OPERATOR_OIN,
    OTHER_LEAD_OIN,
    SUPPLIER_A,
    SUPPLIER_B,
    UTRECHT_OIN,
    ZWOLLE_OIN,
    assert_problem,
)

from servicekit.testing import TestIssuer


def staff(issuer: TestIssuer, org_type: str, org_id: str, *scopes: str) -> dict[str, str]:
    return issuer.headers(sub=f"staff-{org_id}", scopes=scopes, org_id=org_id, org_type=org_type)


async def _etag(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> str:
    r = await client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def test_registry_offerings_and_usages_belong_to_their_organisation(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    http = clients["registry"]
    rw = ("registry:read", "registry:write")
    operator = staff(issuer, "operator", OPERATOR_OIN, *rw)
    run = uuid.uuid4().hex[:6]
    orgs = {}
    for key, body in {
        "a": {"type": "supplier", "name": f"A {run}", "kvkNumber": SUPPLIER_A},
        "b": {"type": "supplier", "name": f"B {run}", "kvkNumber": SUPPLIER_B},
        "u": {"type": "municipality", "name": "Utrecht", "cbsCode": "GM0344", "oin": UTRECHT_OIN},
        "z": {"type": "municipality", "name": "Zwolle", "cbsCode": "GM0193", "oin": ZWOLLE_OIN},
    }.items():
        r = await http.post("/v1/organisations", json=body, headers=operator)
        assert r.status_code == 201, r.text
        orgs[key] = r.json()
    r = await http.post(
        "/v1/facilities",
        json={"slug": f"sec-{run}", "name": "Sec", "kind": "service", "theme": "security"},
        headers=operator,
    )
    assert r.status_code == 201, r.text
    facility = r.json()
    supplier_a = staff(issuer, "supplier", SUPPLIER_A, *rw)
    supplier_b = staff(issuer, "supplier", SUPPLIER_B, *rw)
    utrecht = staff(issuer, "municipality", UTRECHT_OIN, *rw)
    zwolle = staff(issuer, "municipality", ZWOLLE_OIN, *rw)

    # Only the operator manages organisations and facilities.
    for who in (supplier_a, utrecht):
        r = await http.post(
            "/v1/organisations", json={"type": "supplier", "name": "X", "kvkNumber": "11111111"},
            headers=who,
        )  # fmt: skip
        assert_problem(r, 403)
        etag = await _etag(http, f"/v1/facilities/{facility['id']}", who)
        r = await http.patch(
            f"/v1/facilities/{facility['id']}", json={"name": "hijacked"},
            headers={**who, "If-Match": etag},
        )  # fmt: skip
        assert_problem(r, 403)
        etag = await _etag(http, f"/v1/organisations/{orgs['u']['id']}", who)
        r = await http.patch(
            f"/v1/organisations/{orgs['u']['id']}", json={"oin": "00000001000000999000"},
            headers={**who, "If-Match": etag},
        )  # fmt: skip
        assert_problem(r, 403)

    # Supplier A's offering: B can neither change it nor add versions, nor create one for A.
    r = await http.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": "A's product", "priceModel": "fixed"},
        headers=supplier_a,
    )
    assert r.status_code == 201, r.text
    offering = r.json()
    path = f"/v1/offerings/{offering['id']}"
    etag = await _etag(http, path, supplier_b)
    r = await http.patch(path, json={"name": "B's now"}, headers={**supplier_b, "If-Match": etag})
    assert_problem(r, 403)
    r = await http.post(
        f"{path}/versions", json={"version": "6.6.6", "releaseDate": "2026-01-01"},
        headers=supplier_b,
    )  # fmt: skip
    assert_problem(r, 403)
    r = await http.post(
        "/v1/offerings",
        json={"supplierId": orgs["a"]["id"], "facilityId": facility["id"], "name": "fake",
              "priceModel": "free"},
        headers=supplier_b,
    )  # fmt: skip
    assert r.status_code in (400, 403), r.text
    # A municipality cannot act as a supplier either.
    r = await http.patch(path, json={"name": "x"}, headers={**utrecht, "If-Match": etag})
    assert_problem(r, 403)
    r = await http.get(path, headers=supplier_a)
    assert r.json()["name"] == "A's product"
    r = await http.get(f"{path}/versions", headers=supplier_a)
    assert r.json()["items"] == []

    # Utrecht's usage: Zwolle can neither change it nor record one for Utrecht.
    r = await http.post(
        "/v1/usages",
        json={"municipalityId": orgs["u"]["id"], "facilityId": facility["id"],
              "contractEndDate": "2028-01-31"},
        headers=utrecht,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    usage = r.json()
    upath = f"/v1/usages/{usage['id']}"
    etag = await _etag(http, upath, zwolle)
    r = await http.patch(
        upath, json={"contractEndDate": "2030-01-01"}, headers={**zwolle, "If-Match": etag}
    )
    assert_problem(r, 403)
    r = await http.post(
        "/v1/usages",
        json={"municipalityId": orgs["u"]["id"], "facilityId": facility["id"]},
        headers=zwolle,
    )
    assert_problem(r, 403)
    # A supplier cannot record usages for a municipality.
    r = await http.post(
        "/v1/usages",
        json={"municipalityId": orgs["z"]["id"], "facilityId": facility["id"]},
        headers=supplier_a,
    )
    assert_problem(r, 403)
    r = await http.get(upath, headers=utrecht)
    assert r.json()["contractEndDate"] == "2028-01-31"
    # Zwolle sees that Utrecht uses the facility, not its contract, radar or costs.
    r = await http.get(upath, headers=zwolle)
    assert (r.json()["contractEndDate"], r.json()["contractDetailsShown"]) == (None, False)
    for private in ("radar", "costs"):
        r = await http.get(f"/v1/organisations/{orgs['u']['id']}/{private}", headers=zwolle)
        assert_problem(r, 403)
    r = await http.get("/v1/usages", params={"municipalityId": orgs["u"]["id"]}, headers=utrecht)
    assert r.json()["total"] == 1

    # Vulnerabilities: only A (or the operator) records one in A's versions; exposure is
    # Utrecht's own business, even for tokens with the exposure scope.
    r = await http.post(f"{path}/versions", json={"version": "1.0", "releaseDate": "2026-01-01"},
                        headers=supplier_a)  # fmt: skip
    version = r.json()["id"]
    r = await http.patch(
        upath, json={"offeringId": offering["id"], "versionId": version},
        headers={**utrecht, "If-Match": await _etag(http, upath, utrecht)},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    cve = {"offeringId": offering["id"], "cveId": "CVE-2099-4242", "cvssScore": 9.1,
           "cvssVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N",
           "description": "Fictitious", "affectedVersionIds": [version]}  # fmt: skip
    for who in (supplier_b, utrecht):
        assert_problem(await http.post("/v1/vulnerabilities", json=cve, headers=who), 403)
    r = await http.post("/v1/vulnerabilities", json=cve, headers=supplier_a)
    assert r.status_code == 201, r.text
    vpath = f"/v1/vulnerabilities/{r.json()['id']}"
    r = await http.post(f"{vpath}/withdrawal", json={"reason": "mine now"},
                        headers={**supplier_b, "If-Match": r.headers["etag"]})  # fmt: skip
    assert_problem(r, 403)
    exposure = ("registry:read", "registry:exposure")
    mine = f"/v1/organisations/{orgs['u']['id']}/exposures"
    zwolle_exposure = staff(issuer, "municipality", ZWOLLE_OIN, *exposure)
    supplier_exposure = staff(issuer, "supplier", SUPPLIER_A, *exposure)
    for who in (zwolle_exposure, supplier_exposure):
        assert_problem(await http.get(mine, headers=who), 403)
    r = await http.get(f"{vpath}/exposures",
                       headers=staff(issuer, "supplier", SUPPLIER_B, *exposure))  # fmt: skip
    assert_problem(r, 403)
    r = await http.get(f"{vpath}/exposures", headers=zwolle_exposure)
    assert r.json()["total"] == 0
    assert_problem(await http.get(mine, headers=utrecht), 403)  # the scope is needed too
    r = await http.get(mine, headers=staff(issuer, "municipality", UTRECHT_OIN, *exposure))
    assert [e["cveId"] for e in r.json()["items"]] == ["CVE-2099-4242"]
    assert (await http.get(vpath, headers=utrecht)).json()["status"] == "published"


def _tender(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "facilityId": FACILITY_ID,
        "leadPartyId": LEAD_ID,
        "title": "Security tender",
        "procedure": "open",
        "estimatedValue": {"amount": 1000, "currency": "EUR"},
        "enrollmentOpensAt": (now - timedelta(minutes=5)).isoformat(),
        "enrollmentClosesAt": (now + timedelta(days=10)).isoformat(),
        "plannedStartDate": (date.today() + timedelta(days=400)).isoformat(),
        "contractDurationMonths": 24,
        "lots": [{"title": "Lot 1", "unit": "seat"}],
    }
    body.update(overrides)
    return body


async def test_procurement_tenders_and_enrollments_belong_to_their_organisation(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    http = clients["procurement"]
    manage = ("procurement:read", "procurement:manage")
    enroll = ("procurement:read", "procurement:enroll")
    lead = staff(issuer, "cooperation", LEAD_OIN, *manage)
    other_lead = staff(issuer, "cooperation", OTHER_LEAD_OIN, *manage)
    utrecht = staff(issuer, "municipality", UTRECHT_OIN, *enroll)
    zwolle = staff(issuer, "municipality", ZWOLLE_OIN, *enroll)

    # Another cooperation cannot open a tender in the lead party's name.
    r = await http.post("/v1/tenders", json=_tender(), headers=other_lead)
    assert_problem(r, 403)
    r = await http.post("/v1/tenders", json=_tender(), headers=lead)
    assert r.status_code == 201, r.text
    tender = r.json()
    tpath = f"/v1/tenders/{tender['id']}"
    etag = await _etag(http, tpath, other_lead)
    r = await http.patch(tpath, json={"title": "mine"}, headers={**other_lead, "If-Match": etag})
    assert_problem(r, 403)
    for action in ("publication", "cancellation"):
        r = await http.post(f"{tpath}/{action}", json={"reason": "sabotage"}, headers=other_lead)
        assert_problem(r, 403)
    r = await http.post(
        f"{tpath}/lots", json={"title": "extra", "unit": "seat"}, headers=other_lead
    )
    assert_problem(r, 403)
    r = await http.post(f"{tpath}/publication", json={}, headers=lead)
    assert r.status_code == 200, r.text

    body = {
        "lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 10}],
        "mandate": {"signerName": "A", "signerRole": "wethouder",
                    "signedDate": date.today().isoformat(), "authorisesLeadParty": True},
    }  # fmt: skip
    r = await http.post(f"{tpath}/enrollments", json=body, headers=utrecht)
    assert r.status_code == 201, r.text
    enrollment = r.json()
    epath = f"{tpath}/enrollments/{enrollment['id']}"
    for method, path in (("GET", epath), ("GET", f"{epath}/mandates")):
        r = await http.request(method, path, headers=zwolle)
        assert r.status_code in (403, 404), (path, r.text)
    etag = await _etag(http, epath, utrecht)
    r = await http.put(
        epath,
        json={"lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 99999}]},
        headers={**zwolle, "If-Match": etag},
    )
    assert r.status_code in (403, 404), r.text
    r = await http.post(f"{epath}/withdrawal", json={}, headers={**zwolle, "If-Match": etag})
    assert r.status_code in (403, 404), r.text
    # The lead party manages the tender but does not sign for a municipality.
    r = await http.post(
        f"{epath}/withdrawal", json={}, headers={**staff(issuer, "cooperation", LEAD_OIN,
                                                          *enroll), "If-Match": etag}
    )  # fmt: skip
    assert r.status_code in (403, 404), r.text
    r = await http.get(epath, headers=utrecht)
    assert r.json()["status"] == "enrolled"
    assert r.json()["lots"][0]["expectedVolume"] == 10
    r = await http.get(f"{tpath}/enrollments", headers=zwolle)
    assert r.status_code == 200
    assert r.json()["items"] == []


async def test_identity_client_registry_needs_the_admin_scope(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    """The client registry is gated by the identity:admin scope, which identity only
    grants to platform administrators (tests/identity). A municipality's staff token with
    every API scope but that one can neither list nor register clients."""
    http = clients["identity"]
    staff_token = issuer.headers(
        scopes=["registry:read", "registry:write", "procurement:manage", "procurement:enroll"],
        org_id=UTRECHT_OIN,
        org_type="municipality",
        roles=["registry-editor"],
    )
    body = {"clientId": "sec-rogue", "name": "rogue", "grantType": "client_credentials",
            "tokenEndpointAuthMethod": "client_secret_basic", "allowedScopes": ["registry:write"],
            "orgId": OPERATOR_OIN, "orgType": "operator"}  # fmt: skip
    r = await http.post("/v1/clients", json=body, headers=staff_token)
    assert_problem(r, 403)
    r = await http.get("/v1/clients", headers=staff_token)
    assert_problem(r, 403)


async def test_identity_client_registry_needs_a_platform_administrator(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    """identity:admin and the platform-admin role are not enough: the token must act for an
    organisation in IDENTITY_ADMIN_ORG_IDS (here the suite's operator). A validly signed
    token of a municipality claiming both is refused (403 problem+json)."""
    http = clients["identity"]
    pretender = issuer.headers(
        scopes=["identity:admin"],
        org_id=UTRECHT_OIN,
        org_type="municipality",
        roles=["platform-admin"],
    )
    r = await http.get("/v1/clients", headers=pretender)
    assert_problem(r, 403)
    body = {"clientId": "sec-pretender", "name": "x", "grantType": "client_credentials",
            "tokenEndpointAuthMethod": "private_key_jwt", "allowedScopes": ["registry:write"]}  # fmt: skip
    r = await http.post("/v1/clients", json=body, headers=pretender)
    assert_problem(r, 403)
    operator = issuer.headers(
        scopes=["identity:admin"], org_id=OPERATOR_OIN, org_type="operator",
        roles=["platform-admin"],
    )  # fmt: skip
    assert (await http.get("/v1/clients", headers=operator)).status_code == 200
