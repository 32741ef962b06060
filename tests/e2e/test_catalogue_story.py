"""Issue 18 through the gateway with simulator logins: a cooperation proposes an
initiative, municipalities in four provinces pledge support and the catalogue ranks it;
five municipalities in three provinces enroll in one joint tender (each with its own
eHerkenning login and mandate); a municipality's decisions ahead list that tender next
to its ending contract; annual costs and the population the operator loads give a cost
per inhabitant."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2ekit import EH3, LOA_LOW, LOA_SUBSTANTIAL, Browser, Platform, Rp, basic_auth, bearer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

SCOPES = (
    "openid registry:read registry:write procurement:read procurement:enroll procurement:manage"
)
LEAD_USER = "eh-dommelvallei-inkoop"
# Five municipalities in three provinces, each with the enrollment machtiging.
ENROLLING = {
    "GM0344": "eh-utrecht-inkoop",  # Utrecht
    "GM0363": "eh-amsterdam-inkoop",  # Noord-Holland
    "GM0599": "eh-rotterdam-inkoop",  # Zuid-Holland
    "GM0820": "eh-nuenen-inkoop",  # Noord-Brabant
    "GM1771": "eh-geldrop-inkoop",  # Noord-Brabant
}


async def _admin(api: httpx.AsyncClient) -> dict[str, str]:
    r = await api.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "scope": "identity:admin registry:write registry:read",
        },
        headers={"Authorization": basic_auth("samen-admin", "samen-admin-dev-secret")},
    )
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


async def _rp(api: httpx.AsyncClient, admin: dict[str, str]) -> Rp:
    redirect = "http://127.0.0.1:9/callback"
    client_id = f"e2e-catalogue-{uuid.uuid4().hex[:8]}"
    r = await api.post("/api/identity/v1/clients", headers=admin, json={
        "clientId": client_id, "name": "E2E: catalogus", "grantType": "authorization_code",
        "tokenEndpointAuthMethod": "client_secret_basic", "redirectUris": [redirect],
        "allowedScopes": SCOPES.split(), "minimumLoa": LOA_LOW, "sector": "e2e-catalogue"})  # fmt: skip
    assert r.status_code == 201, r.text
    return Rp(client_id, r.json()["clientSecret"], redirect)


async def _login(platform: Platform, rp: Rp, identity: str) -> dict[str, str]:
    browser = Browser(platform.url)
    try:
        body = await browser.login(rp, "eherkenning", identity, EH3, SCOPES,
                                   acr_values=LOA_SUBSTANTIAL)  # fmt: skip
    finally:
        await browser.aclose()
    return bearer(body["access_token"])


async def _one(api: httpx.AsyncClient, admin: dict[str, str], path: str, **params: str) -> Any:
    r = await api.get(path, params=params, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1, (path, params, r.json())
    return r.json()["items"][0]


async def test_initiative_tender_of_five_decisions_and_costs(platform: Platform) -> None:
    api = httpx.AsyncClient(base_url=platform.url, timeout=30)
    try:
        admin = await _admin(api)
        rp = await _rp(api, admin)
        reg, proc = "/api/registry/v1", "/api/procurement/v1"
        towns = {
            code: await _one(api, admin, f"{reg}/organisations", cbsCode=code) for code in ENROLLING
        }
        lead = await _one(api, admin, f"{reg}/organisations", type="cooperation")
        tokens = {code: await _login(platform, rp, who) for code, who in ENROLLING.items()}
        lead_token = await _login(platform, rp, LEAD_USER)

        # 1. The cooperation proposes; four municipalities pledge; the catalogue ranks it
        # (Geldrop-Mierlo's user may enroll but not write to the registry: it only reads).
        slug = f"samen-archiveren-{uuid.uuid4().hex[:6]}"
        r = await api.post(f"{reg}/initiatives", headers=lead_token, json={
            "slug": slug, "name": "Samen archiveren", "kind": "service", "theme": "archief",
            "proposedById": lead["id"]})  # fmt: skip
        assert r.status_code == 201, r.text
        initiative = r.json()
        for code, body in (("GM0344", {"kind": "interest"}), ("GM0363", {"kind": "pilot"}),
                           ("GM0599", {"kind": "co-fund", "amount": 50000}),
                           ("GM0820", {"kind": "interest"})):  # fmt: skip
            r = await api.post(f"{reg}/facilities/{initiative['facilityId']}/pledges",
                               json={"municipalityId": towns[code]["id"], **body}, headers=tokens[code])  # fmt: skip
            assert r.status_code == 201, r.text
        r = await api.get(f"{reg}/initiatives/{initiative['facilityId']}", headers=tokens["GM1771"])
        support = r.json()["support"]
        assert (support["pledges"], support["coFundAmount"], len(support["provinces"])) == (
            4,
            50000,
            4,
        )
        ranked = (await api.get(f"{reg}/initiatives", headers=tokens["GM1771"])).json()["items"]
        assert ranked[0]["facilityId"] == initiative["facilityId"]

        # 2. One joint tender, five municipalities in three provinces enroll.
        telephony = await _one(
            api, admin, f"{reg}/facilities", slug="gemeentelijke-telecommunicatie"
        )
        now = datetime.now(UTC)
        r = await api.post(f"{proc}/tenders", headers=lead_token, json={
            "facilityId": telephony["id"], "leadPartyId": lead["id"], "title": "Telefonie (e2e, vijf)",
            "procedure": "open", "estimatedValue": {"amount": 2000000},
            "enrollmentOpensAt": (now - timedelta(minutes=1)).isoformat(),
            "enrollmentClosesAt": (now + timedelta(days=20)).isoformat(),
            "plannedStartDate": (date.today() + timedelta(days=90)).isoformat(),
            "contractDurationMonths": 48, "lots": [{"title": "Vast en mobiel", "unit": "gebruiker"}]})  # fmt: skip
        assert r.status_code == 201, r.text
        tender = r.json()
        r = await api.post(
            f"{proc}/tenders/{tender['id']}/publication", json={}, headers=lead_token
        )
        assert r.status_code == 200, r.text
        for code in ENROLLING:
            r = await api.post(f"{proc}/tenders/{tender['id']}/enrollments", headers=tokens[code], json={
                "lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 100}],
                "mandate": {"signerName": "J. Jansen", "signerRole": "wethouder",
                            "signedDate": date.today().isoformat(), "authorisesLeadParty": True}})  # fmt: skip
            assert r.status_code == 201, (code, r.text)
        demand = (await api.get(f"{proc}/tenders/{tender['id']}/demand", headers=lead_token)).json()
        assert demand["lots"][0]["participants"] == 5
        assert len({p["province"] for p in demand["provinces"]}) == 4

        # 3. Rotterdam's telephony contract ends soon: its decisions ahead show the tender.
        r = await api.get(f"{proc}/decisions-ahead", headers=tokens["GM0599"],
                          params={"municipalityId": towns["GM0599"]["id"], "within": "P2Y"})  # fmt: skip
        assert r.status_code == 200, r.text
        item = next(i for i in r.json()["items"] if i["facilityId"] == telephony["id"])
        assert tender["id"] in {t["tenderId"] for t in item["tenders"]}

        # 4. Costs: Nuenen records what it pays; the operator loads its population.
        ibd = await _one(api, admin, f"{reg}/facilities", slug="ibd")
        r = await api.post(f"{reg}/usages", headers=tokens["GM0820"], json={
            "municipalityId": towns["GM0820"]["id"], "facilityId": ibd["id"], "annualCost": 23000})  # fmt: skip
        assert r.status_code == 201, r.text
        r = await api.post(f"{reg}/population-figures", headers=admin, json={
            "year": 2024, "source": "e2e test figure (not CBS)",
            "figures": [{"cbsCode": "GM0820", "inhabitants": 23000}]})  # fmt: skip
        assert r.status_code == 201, r.text
        costs = (
            await api.get(f"{reg}/organisations/{towns['GM0820']['id']}/costs", headers=admin)
        ).json()
        assert (costs["annualCostTotal"], costs["costPerInhabitant"]) == (23000, 1)
    finally:
        await api.aclose()
