"""The platform's story, through the gateway only, with real OIDC logins via the
simulators (issue 8, steps 1-6). Each step's key request carries its own W3C
`traceparent`; the step then checks that this one trace spans the gateway, the service
and the service's database (spans exported over OTLP to the suite's receiver).

The steps share state (ids, tokens) and run in file order, like the story does.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2ekit import (
    DIGID_SUBSTANTIAL,
    EH2,
    EH3,
    LOA_LOW,
    LOA_SUBSTANTIAL,
    Browser,
    Platform,
    Rp,
    basic_auth,
    bearer,
    decode_unverified,
    find_bsns,
    new_traceparent,
    traced_services,
)
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

# Starting four processes (migrations, seeds, imports) on a loaded 2-core machine can take
# minutes; the suite-wide 120 s timeout would cut the first test's setup short.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

ROOT = Path(__file__).resolve().parents[2]
OCDS = ROOT / "tests" / "procurement" / "ocds"

# The development seed's platform-administration client (identity seed).
ADMIN_CLIENT = ("samen-admin", "samen-admin-dev-secret")
# The people of identity's eHerkenning simulator this story needs (its identities.json);
# their organisations come from that file too, so the story follows identity's demo data.
UTRECHT_USER = "eh-utrecht-inkoop"  # records usages, enrolls (GM0344)
SECOND_USER = "eh-geldrop-inkoop"  # enrolls a second municipality (GM1771)
LEAD_USER = "eh-dommelvallei-inkoop"  # leads joint tenders (cooperation)
SUPPLIER_USER = "eh-leverancier"  # the supplier's employee


def simulator_org(identity_id: str) -> dict[str, str]:
    from importlib import resources

    data = json.loads(
        resources.files("identity.simulators").joinpath("identities.json").read_text("utf-8")
    )
    person = next(p for p in data["eherkenning"] if p["id"] == identity_id)
    org: dict[str, str] = person["org"]
    return org


UTRECHT_OIN = simulator_org(UTRECHT_USER)["id"]
SECOND_OIN = simulator_org(SECOND_USER)["id"]
LEAD_OIN = simulator_org(LEAD_USER)["id"]
SUPPLIER_KVK = simulator_org(SUPPLIER_USER)["id"]
PROTOCOL_CLAIMS = {
    "iss",
    "aud",
    "azp",
    "nonce",
    "jti",
    "iat",
    "nbf",
    "exp",
    "auth_time",
    "sid",
    "sub_id_type",
}
API_SCOPES = (
    "openid profile registry:read registry:write procurement:read procurement:enroll "
    "procurement:manage"
)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def assert_one_trace(platform: Platform, trace_id: str, *services: str) -> None:
    """Gateway, the named services and their databases in the same trace."""
    wanted = {"gateway", *services}
    spans = platform.wait_for_trace(trace_id, wanted)
    seen = traced_services(spans)
    assert wanted <= seen, f"trace {trace_id}: {sorted(seen)} of {sorted(wanted)}"
    # The service's server span hangs under the gateway's client span (one tree).
    ids = {s.span_id for s in spans}
    for span in spans:
        if span.service in services and span.kind == 2:  # SERVER
            assert span.parent_id in ids, f"{span.service} server span has no parent here"


def ocds_validator() -> Draft4Validator:
    package = json.loads((OCDS / "release-package-schema.json").read_text(encoding="utf-8"))
    release = json.loads((OCDS / "release-schema.json").read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resources(
        [
            (release["id"], Resource.from_contents(release, default_specification=DRAFT4)),
            (package["id"], Resource.from_contents(package, default_specification=DRAFT4)),
        ]
    )
    return Draft4Validator(package, registry=registry, format_checker=FormatChecker())


class Story:
    """What the steps hand to each other."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.api = httpx.AsyncClient(base_url=platform.url, timeout=30)
        self.ids: dict[str, Any] = {}
        self.tokens: dict[str, str] = {}
        self.rp: Rp | None = None

    def traced(self, **headers: str) -> tuple[str, dict[str, str]]:
        trace_id, traceparent = new_traceparent()
        return trace_id, {"traceparent": traceparent, **headers}

    async def admin_token(self) -> str:
        if "admin" not in self.tokens:
            r = await self.api.post(
                "/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "scope": "identity:admin registry:write registry:read",
                },
                headers={"Authorization": basic_auth(*ADMIN_CLIENT)},
            )
            assert r.status_code == 200, r.text
            self.tokens["admin"] = r.json()["access_token"]
        return self.tokens["admin"]

    async def login(
        self, who: str, means: str, identity: str, level: str, scope: str = API_SCOPES, **kw: str
    ) -> dict[str, Any]:
        assert self.rp is not None
        browser = Browser(self.platform.url)
        try:
            body = await browser.login(self.rp, means, identity, level, scope, **kw)
        finally:
            await browser.aclose()
        self.tokens[who] = body["access_token"]
        return body

    async def org(self, **filters: str) -> dict[str, Any]:
        r = await self.api.get(
            "/api/registry/v1/organisations",
            params=filters,
            headers=bearer(await self.admin_token()),
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == 1, (filters, items)
        return dict(items[0])

    async def registered(self, **filters: str) -> dict[str, Any]:
        """The registry's organisation with the identifier the simulator puts in tokens:
        identity's and registry's demo data must agree (one organisation each)."""
        r = await self.api.get(
            "/api/registry/v1/organisations",
            params=filters,
            headers=bearer(await self.admin_token()),
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == 1, f"registry organisations for {filters}: {items}"
        return dict(items[0])


@pytest.fixture(scope="module")
async def story(platform: Platform) -> Any:
    s = Story(platform)
    yield s
    await s.api.aclose()


async def test_0_platform_is_ready_and_an_rp_is_registered(story: Story) -> None:
    r = await story.api.get("/health/ready")
    assert r.json()["status"] == "pass"
    meta = (await story.api.get("/.well-known/openid-configuration")).json()
    assert meta["issuer"] == story.platform.url
    # A relying party for the civil servants' portal, registered by the platform admin
    # through the gateway (identity's client registry API).
    admin = await story.admin_token()
    assert decode_unverified(admin)["org_type"] == "operator"
    redirect = "http://127.0.0.1:9/callback"
    client_id = f"e2e-portal-{uuid.uuid4().hex[:8]}"
    r = await story.api.post(
        "/api/identity/v1/clients",
        json={
            "clientId": client_id,
            "name": "E2E: inkoopportaal",
            "grantType": "authorization_code",
            "tokenEndpointAuthMethod": "client_secret_basic",
            "redirectUris": [redirect],
            "allowedScopes": API_SCOPES.split(),
            "minimumLoa": LOA_LOW,
            "sector": "e2e-portal",
        },
        headers=bearer(admin),
    )
    assert r.status_code == 201, r.text
    story.rp = Rp(client_id, r.json()["clientSecret"], redirect)
    # The simulator's organisations exist in the registry with the same identifiers.
    story.ids.update(
        utrecht=await story.registered(type="municipality", oin=UTRECHT_OIN),
        second=await story.registered(type="municipality", oin=SECOND_OIN),
        lead=await story.registered(type="cooperation", oin=LEAD_OIN),
        supplier=await story.registered(type="supplier", kvkNumber=SUPPLIER_KVK),
    )
    assert story.ids["utrecht"]["cbsCode"] == simulator_org(UTRECHT_USER)["cbs_code"]


async def test_1_supplier_registers_an_offering_and_a_version_for_ggi(story: Story) -> None:
    body = await story.login("supplier", "eherkenning", SUPPLIER_USER, EH3)
    claims = decode_unverified(body["access_token"])
    assert claims["org_type"] == "supplier"
    assert claims["acr"] == LOA_SUBSTANTIAL
    token = story.tokens["supplier"]
    r = await story.api.get(
        "/api/registry/v1/facilities", params={"slug": "ggi-netwerk"}, headers=bearer(token)
    )
    assert r.status_code == 200, r.text
    (ggi,) = r.json()["items"]
    trace_id, headers = story.traced(**bearer(token))
    r = await story.api.post(
        "/api/registry/v1/offerings",
        json={
            "facilityId": ggi["id"],
            "name": "GGI-Netwerk aansluiting (e2e)",
            "priceModel": "subscription",
            "standards": ["IPv6"],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    offering = r.json()
    assert offering["supplierId"] == story.ids["supplier"]["id"]
    # The Location is the public one (the gateway rewrites the service's own path).
    assert r.headers["location"].startswith("/api/registry/v1/offerings/")
    assert_one_trace(story.platform, trace_id, "registry")
    r = await story.api.post(
        f"/api/registry/v1/offerings/{offering['id']}/versions",
        json={"version": "1.0.0", "releaseDate": date.today().isoformat()},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text
    r = await story.api.get(
        f"/api/registry/v1/offerings/{offering['id']}/versions", headers=bearer(token)
    )
    assert [v["version"] for v in r.json()["items"]] == ["1.0.0"]
    # Another organisation's staff cannot change the supplier's offering.
    utrecht = await story.login("utrecht-eh3", "eherkenning", UTRECHT_USER, EH3)
    r = await story.api.patch(
        f"/api/registry/v1/offerings/{offering['id']}",
        json={"name": "taken over"},
        headers={**bearer(utrecht["access_token"]), "If-Match": '"*"'},
    )
    assert r.status_code == 403, r.text
    story.ids["ggi"] = ggi


async def test_2_municipality_records_its_contract_and_the_radar_lists_it(story: Story) -> None:
    token = story.tokens["utrecht-eh3"]
    r = await story.api.get(
        "/api/registry/v1/facilities",
        params={"slug": "gemeentelijke-telecommunicatie"},
        headers=bearer(token),
    )
    (telephony,) = r.json()["items"]
    r = await story.api.get(
        "/api/registry/v1/offerings", params={"facilityId": telephony["id"]}, headers=bearer(token)
    )
    offerings = {o["name"]: o for o in r.json()["items"]}
    assert offerings, "the seed has telephony offerings"
    end = add_months(date.today(), 14)
    utrecht = story.ids["utrecht"]
    r = await story.api.get(
        "/api/registry/v1/usages",
        params={"municipalityId": utrecht["id"], "facilityId": telephony["id"]},
        headers=bearer(token),
    )
    existing = [u for u in r.json()["items"] if u["status"] == "active"]
    trace_id, headers = story.traced(**bearer(token))
    if existing:  # the demo seed already knows Utrecht's own telephony contract
        usage = existing[0]
        current = await story.api.get(
            f"/api/registry/v1/usages/{usage['id']}", headers=bearer(token)
        )
        r = await story.api.patch(
            f"/api/registry/v1/usages/{usage['id']}",
            json={"contractEndDate": end.isoformat(), "noticePeriodMonths": 6},
            headers={**headers, "If-Match": current.headers["etag"]},
        )
        assert r.status_code == 200, r.text
    else:
        r = await story.api.post(
            "/api/registry/v1/usages",
            json={
                "municipalityId": utrecht["id"],
                "facilityId": telephony["id"],
                "status": "active",
                "contractEndDate": end.isoformat(),
                "noticePeriodMonths": 6,
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
    usage = r.json()
    assert usage["contractEndDate"] == end.isoformat()
    assert_one_trace(story.platform, trace_id, "registry")
    # Utrecht's own radar: its contract ends inside 18 months. The facility's radar lists
    # other municipalities' contracts: not for a municipality's staff (registry:contracts).
    r = await story.api.get(
        f"/api/registry/v1/organisations/{utrecht['id']}/radar",
        params={"within": "P18M"},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    radar = {i["usageId"]: i for i in r.json()["items"]}
    assert usage["id"] in radar, r.json()
    assert radar[usage["id"]]["contractEndDate"] == end.isoformat()
    r = await story.api.get(
        f"/api/registry/v1/facilities/{telephony['id']}/radar", headers=bearer(token)
    )
    assert r.status_code == 403, r.text
    story.ids.update(telephony=telephony, usage=usage, contract_end=end)


async def test_3_joint_tender_step_up_and_enrollment_with_mandate(story: Story) -> None:
    lead = await story.login("lead", "eherkenning", LEAD_USER, EH3)
    assert "procurement:manage" in lead["scope"].split()
    now = datetime.now(UTC)
    trace_id, headers = story.traced(**bearer(story.tokens["lead"]))
    r = await story.api.post(
        "/api/procurement/v1/tenders",
        json={
            "facilityId": story.ids["telephony"]["id"],
            "leadPartyId": story.ids["lead"]["id"],
            "title": "GT Vast en Mobiel 2028 (e2e)",
            "procedure": "open",
            "estimatedValue": {"amount": 1200000, "currency": "EUR"},
            "enrollmentOpensAt": (now - timedelta(minutes=1)).isoformat(),
            "enrollmentClosesAt": (now + timedelta(days=30)).isoformat(),
            "plannedStartDate": add_months(date.today(), 12).isoformat(),
            "contractDurationMonths": 48,
            "lots": [
                {"title": "Vaste telefonie", "unit": "seat"},
                {"title": "Mobiele telefonie", "unit": "subscription"},
            ],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    tender = r.json()
    assert [lot["number"] for lot in tender["lots"]] == [1, 2]
    # procurement read the facility and the lead party from the registry: same trace.
    assert_one_trace(story.platform, trace_id, "procurement")
    tid = tender["id"]
    r = await story.api.post(
        f"/api/procurement/v1/tenders/{tid}/publication",
        json={},
        headers=bearer(story.tokens["lead"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open-for-enrollment"

    enrollment = {
        "lots": [
            {"lotId": tender["lots"][0]["id"], "expectedVolume": 400},
            {"lotId": tender["lots"][1]["id"], "expectedVolume": 150},
        ],
        "mandate": {
            "signerName": "A. Bakker",
            "signerRole": "wethouder",
            "signedDate": date.today().isoformat(),
            "authorisesLeadParty": True,
        },
    }
    # First logged in at EH2 (low): the mandate needs substantial.
    low = await story.login("utrecht-eh2", "eherkenning", UTRECHT_USER, EH2)
    assert decode_unverified(low["access_token"])["acr"] == LOA_LOW
    r = await story.api.post(
        f"/api/procurement/v1/tenders/{tid}/enrollments",
        json=enrollment,
        headers=bearer(low["access_token"]),
    )
    assert r.status_code == 403, r.text
    problem = r.json()
    assert problem["requiredAcr"] == LOA_SUBSTANTIAL
    assert "insufficient_user_authentication" in r.headers["www-authenticate"]
    # Step up with acr_values: the same person logs in again at EH3.
    high = await story.login(
        "utrecht", "eherkenning", UTRECHT_USER, EH3, acr_values=LOA_SUBSTANTIAL
    )
    assert decode_unverified(high["access_token"])["acr"] == LOA_SUBSTANTIAL
    trace_id, headers = story.traced(**bearer(high["access_token"]))
    r = await story.api.post(
        f"/api/procurement/v1/tenders/{tid}/enrollments", json=enrollment, headers=headers
    )
    assert r.status_code == 201, r.text
    enrolled = r.json()
    expected_start = (story.ids["contract_end"] + timedelta(days=1)).isoformat()
    assert {line["desiredStartDate"] for line in enrolled["lots"]} == {expected_start}
    assert enrolled["mandate"]["signerAcr"] == LOA_SUBSTANTIAL
    assert enrolled["municipality"]["oin"] == UTRECHT_OIN
    # gateway → procurement (+ its database) → registry (+ its database): one trace.
    assert_one_trace(story.platform, trace_id, "procurement", "registry")
    story.ids.update(tender=tender, enrollment=enrolled)


async def test_4_another_municipality_cannot_see_or_change_the_first_ones_data(
    story: Story,
) -> None:
    second = await story.login("second", "eherkenning", SECOND_USER, EH3)
    assert decode_unverified(second["access_token"])["org_id"] == SECOND_OIN
    token = story.tokens["second"]
    tid = story.ids["tender"]["id"]
    eid = story.ids["enrollment"]["id"]
    path = f"/api/procurement/v1/tenders/{tid}/enrollments/{eid}"
    r = await story.api.get(path, headers=bearer(token))
    assert r.status_code in (403, 404), r.text
    r = await story.api.get(f"{path}/mandates", headers=bearer(token))
    assert r.status_code in (403, 404), r.text
    r = await story.api.get(f"/api/procurement/v1/tenders/{tid}/enrollments", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert eid not in {e["id"] for e in r.json()["items"]}
    r = await story.api.put(
        path,
        json={"lots": [{"lotId": story.ids["tender"]["lots"][0]["id"], "expectedVolume": 1}]},
        headers={**bearer(token), "If-Match": '"x"'},
    )
    assert r.status_code in (403, 404), r.text
    r = await story.api.post(f"{path}/withdrawal", json={}, headers=bearer(token))
    assert r.status_code in (403, 404), r.text
    # Nor Utrecht's contract in the registry.
    usage = story.ids["usage"]
    r = await story.api.patch(
        f"/api/registry/v1/usages/{usage['id']}",
        json={"contractEndDate": "2030-01-01"},
        headers={**bearer(token), "If-Match": '"x"'},
    )
    assert r.status_code == 403, r.text
    # The enrollment is unchanged.
    r = await story.api.get(path, headers=bearer(story.tokens["utrecht"]))
    assert r.status_code == 200
    assert r.json()["lots"][0]["expectedVolume"] == 400
    # The second municipality enrolls itself, in lot 1 only.
    r = await story.api.post(
        f"/api/procurement/v1/tenders/{tid}/enrollments",
        json={
            "lots": [{"lotId": story.ids["tender"]["lots"][0]["id"], "expectedVolume": 250}],
            "mandate": {
                "signerName": "J. van Dijk",
                "signerRole": "inkoper",
                "signedDate": date.today().isoformat(),
                "authorisesLeadParty": True,
            },
        },
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text


async def test_5_window_closes_demand_totals_and_ocds_lists_both_buyers(story: Story) -> None:
    tid = story.ids["tender"]["id"]
    lead = bearer(story.tokens["lead"])
    r = await story.api.post(
        f"/api/procurement/v1/tenders/{tid}/enrollment-closure", json={}, headers=lead
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "enrollment-closed"
    # Withdrawing after the window closed is refused.
    path = f"/api/procurement/v1/tenders/{tid}/enrollments/{story.ids['enrollment']['id']}"
    utrecht = bearer(story.tokens["utrecht"])
    current = await story.api.get(path, headers=utrecht)
    r = await story.api.post(
        f"{path}/withdrawal", json={}, headers={**utrecht, "If-Match": current.headers["etag"]}
    )
    assert r.status_code == 409, r.text
    trace_id, headers = story.traced(**lead)
    r = await story.api.get(f"/api/procurement/v1/tenders/{tid}/demand", headers=headers)
    assert r.status_code == 200, r.text
    demand = r.json()
    assert demand["participants"] == 2
    lots = {lot["number"]: lot for lot in demand["lots"]}
    assert (lots[1]["participants"], lots[1]["totalVolume"]) == (2, 650)
    assert (lots[2]["participants"], lots[2]["totalVolume"]) == (1, 150)
    assert_one_trace(story.platform, trace_id, "procurement")
    r = await story.api.get(f"/api/procurement/v1/tenders/{tid}/ocds", headers=lead)
    assert r.status_code == 200, r.text
    package = r.json()
    errors = sorted(ocds_validator().iter_errors(package), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    (release,) = package["releases"]
    buyers = {p["identifier"]["id"] for p in release["parties"] if "buyer" in p["roles"]}
    assert buyers == {UTRECHT_OIN, SECOND_OIN}
    lead_party = next(p for p in release["parties"] if "procuringEntity" in p["roles"])
    assert lead_party["identifier"]["id"] == LEAD_OIN


async def test_6_citizen_sees_which_attributes_a_municipal_client_received(
    story: Story,
) -> None:
    # demo-gemeente: identity's seeded municipal client, registered with a BSN legal basis.
    rp = Rp("demo-gemeente", "demo-gemeente-dev-secret", "http://127.0.0.1:8080/callback")
    browser = Browser(story.platform.url)
    try:
        body = await browser.login(
            rp, "digid", "digid-jan", DIGID_SUBSTANTIAL, "openid profile bsn"
        )
    finally:
        await browser.aclose()
    id_token = decode_unverified(body["id_token"])
    assert id_token["acr"] == LOA_SUBSTANTIAL
    assert "bsn" in id_token  # the client has a legal basis and asked for it
    # What the client received about the person: the ID token minus protocol claims.
    received = set(id_token) - PROTOCOL_CLAIMS
    trace_id, headers = story.traced(**bearer(body["access_token"]))
    r = await story.api.get("/api/identity/v1/me/disclosures", headers=headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items, "the login was recorded"
    latest = items[0]
    assert latest["clientId"] == "demo-gemeente"
    assert set(latest["attributes"]) == received
    assert latest["acr"] == LOA_SUBSTANTIAL
    assert_one_trace(story.platform, trace_id, "identity")


async def test_7_no_bsn_in_any_log_or_exported_span(story: Story) -> None:
    """BSNs never appear in logs or traces: scan everything the processes printed and
    every span they exported during the story (every 9-digit number, 11-check)."""
    platform = story.platform
    # The scanner itself finds the simulator's BSN where it does occur.
    assert find_bsns(b'{"sub": "x", "bsn": "999993653"}') == {"999993653"}
    assert find_bsns(b"bsn=999993653&x") == {"999993653"}
    assert find_bsns(b"trace 4999993653a 1999993653 e999993653c") == set()
    # Let the batch exporters flush the last spans.
    time.sleep(1.0)
    logs = platform.log_bytes()
    spans = platform.exported_bytes()
    assert b"login through digid" in logs, "the log captured the story"
    assert spans, "spans were exported"
    assert find_bsns(logs) == set(), "a BSN was written to a log"
    assert find_bsns(spans) == set(), "a BSN was exported in a span"
