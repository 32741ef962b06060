"""Issue 19 in the portal: a supplier records a vulnerability in versions of its
offering (problems next to their field, input kept); a municipality sees "are we
exposed?" and its landscape with integrations; the public facility page lists
integrations."""

from __future__ import annotations

import json

from conftest import Portal
from test_errors import UTRECHT, page_of
from test_flows import (
    FACILITY,
    FACILITY_ID,
    OFFERING_ID,
    SUPPLIER,
    VERSION_ID,
    posts,
    script,
    submit,
)

from portal.web.i18n import COOKIE as LANGUAGE_COOKIE

REG = "/api/registry/v1"
NEW = f"/supplier/offerings/{OFFERING_ID}/vulnerabilities/new"
VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
MUNICIPALITY_ID = "55555555-5555-5555-5555-555555555555"
OTHER_ID = "66666666-6666-6666-6666-666666666666"
VULN_ID = "88888888-8888-8888-8888-888888888888"
INTEGRATION = {
    "id": "77777777-7777-7777-7777-777777777777",
    "sourceOfferingId": OFFERING_ID,
    "targetOfferingId": OTHER_ID,
    "kind": "digikoppeling",
    "standards": ["StUF-ZKN"],
    "status": "active",
    "direction": "two-way",
    "description": "",
}


async def test_supplier_records_a_vulnerability(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    portal.fake.json("POST", f"{REG}/vulnerabilities", {"id": "v-1"}, status=201)
    offering_page = await portal.client.get(f"/supplier/offerings/{OFFERING_ID}")
    assert NEW in offering_page.text
    done = await submit(
        portal, NEW, NEW,
        {"cveId": "CVE-2099-0001", "cvssScore": "9,8", "cvssVector": VECTOR,
         "description": "Fictitious", f"version-{VERSION_ID}": "yes", "fixedInVersion": "6"},
    )  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == f"/supplier/offerings/{OFFERING_ID}"
    ((_, _, headers, body),) = posts(portal, f"{REG}/vulnerabilities")
    assert headers["idempotency-key"]
    sent = json.loads(body)
    assert sent["offeringId"] == OFFERING_ID
    assert sent["cvssScore"] == 9.8
    assert sent["affectedVersionIds"] == [VERSION_ID]
    assert "CVE-2099-0001" not in (await portal.client.get("/supplier/offerings")).text


async def test_problems_are_shown_next_to_their_field(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    problem = {
        "title": "Bad Request", "status": 400, "detail": "Invalid",
        "invalidParams": [{"name": "cveId", "reason": "String should match pattern"},
                          {"name": "affectedVersionIds", "reason": "unknown version"}],
    }  # fmt: skip
    portal.fake.json("POST", f"{REG}/vulnerabilities", problem, status=400)
    page = await submit(
        portal, NEW, NEW, {"cveId": "CVE-1", "cvssScore": "11", "cvssVector": VECTOR,
                           "description": "Fictitious"},
    )  # fmt: skip
    assert page.status_code == 400
    assert 'id="f-cveId-error"' in page.text
    assert 'id="f-affectedVersionIds-error"' in page.text
    assert 'href="#f-affectedVersionIds">Getroffen versies: ' in page.text  # the group's name
    assert 'value="CVE-1"' in page.text  # the input is kept
    assert json.loads(posts(portal, f"{REG}/vulnerabilities")[0][3])["cvssScore"] == 11


async def test_municipality_sees_its_exposure_and_landscape(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    fake = portal.fake
    fake.json(
        "GET", f"{REG}/organisations",
        page_of([{"id": MUNICIPALITY_ID, "name": "Gemeente Utrecht", "type": "municipality"}]),
    )  # fmt: skip
    exposure = {
        "vulnerabilityId": "v-1", "cveId": "CVE-2099-0001", "cvssScore": 9.8,
        "severity": "critical", "fixedInVersion": "6", "municipalityId": MUNICIPALITY_ID,
        "municipalityName": "Gemeente Utrecht", "usageId": "u-1", "usageStatus": "active",
        "offeringId": OFFERING_ID, "versionId": VERSION_ID, "version": "5",
    }  # fmt: skip
    fake.json("GET", f"{REG}/organisations/{MUNICIPALITY_ID}/exposures", page_of([exposure]))
    fake.json("GET", f"{REG}/offerings/{OFFERING_ID}", {"id": OFFERING_ID, "name": "GT Vast"})
    page = await portal.client.get("/municipality/exposures")
    assert page.status_code == 200, page.text
    assert "CVE-2099-0001" in page.text
    assert "9,8 (kritiek)" in page.text
    assert "GT Vast" in page.text
    ((_, _, headers, _),) = fake.api_calls(f"{REG}/organisations/{MUNICIPALITY_ID}/exposures")
    assert headers["authorization"].startswith("Bearer ")

    used = {"offeringName": "GT Vast", "supplierId": "s-1", "supplierName": "Voorbeeld Telecom",
            "facilityId": FACILITY_ID, "facilityName": "GGI-Netwerk", "versionId": VERSION_ID,
            "version": "5", "usageId": "u-1", "usageStatus": "active"}  # fmt: skip
    landscape = {
        "organisationId": MUNICIPALITY_ID,
        "offerings": [{**used, "offeringId": OFFERING_ID},
                      {**used, "offeringId": OTHER_ID, "offeringName": "Zaakregister"}],
        "integrations": [INTEGRATION],
    }  # fmt: skip
    fake.json("GET", f"{REG}/organisations/{MUNICIPALITY_ID}/landscape", landscape)
    page = await portal.client.get("/municipality/landscape")
    assert page.status_code == 200, page.text
    assert "Zaakregister" in page.text
    assert "StUF-ZKN" in page.text
    assert "Tweerichting" in page.text
    menu = page.text
    assert "/municipality/landscape" in menu
    assert "/municipality/exposures" in menu


async def test_exposure_and_landscape_are_for_municipal_staff(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    for path in ("/municipality/exposures", "/municipality/landscape"):
        assert (await portal.client.get(path)).status_code == 403, path
    await portal.login(**UTRECHT)
    assert (await portal.client.get(NEW)).status_code == 403


async def test_public_facility_page_lists_integrations(portal: Portal) -> None:
    fake = portal.fake
    fake.json("GET", f"{REG}/facilities", page_of([FACILITY]))
    fake.json("GET", f"{REG}/facilities/{FACILITY_ID}", FACILITY)
    fake.json("GET", f"{REG}/facilities/{FACILITY_ID}/stage-transitions", page_of([]))
    offering = {"id": OFFERING_ID, "supplierId": "s-1", "facilityId": FACILITY_ID,
                "name": "GT Vast", "description": "", "priceModel": "fixed"}  # fmt: skip
    fake.json("GET", f"{REG}/offerings", page_of([offering]))
    fake.json("GET", f"{REG}/offerings/{OFFERING_ID}/versions", page_of([]))
    fake.json("GET", f"{REG}/usages", page_of([]))
    fake.json("GET", f"{REG}/organisations/s-1", {"id": "s-1", "name": "Voorbeeld Telecom"})
    fake.json("GET", f"{REG}/integrations", page_of([INTEGRATION]))
    fake.json("GET", f"{REG}/offerings/{OTHER_ID}", {"id": OTHER_ID, "name": "Zaakregister"})
    page = await portal.client.get(f"/facilities/{FACILITY_ID}")
    assert page.status_code == 200, page.text
    assert "Zaakregister" in page.text
    assert "Digikoppeling" in page.text
    portal.client.cookies.set(LANGUAGE_COOKIE, "en")
    english = await portal.client.get(f"/facilities/{FACILITY_ID}")
    assert "Two-way" in english.text


async def test_supplier_withdraws_with_if_match(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    vulnerability = {
        "id": VULN_ID, "offeringId": OFFERING_ID, "cveId": "CVE-2099-0001", "cvssScore": 9.8,
        "cvssVector": VECTOR, "severity": "critical", "description": "Fictitious",
        "affectedVersions": [{"versionId": VERSION_ID, "version": "5"}],
        "fixedInVersion": None, "status": "published", "withdrawalReason": None,
    }  # fmt: skip
    portal.fake.json("GET", f"{REG}/vulnerabilities", page_of([vulnerability]))
    portal.fake.json("GET", f"{REG}/vulnerabilities/{VULN_ID}", vulnerability, ETag='"w1"')
    offering_page = await portal.client.get(f"/supplier/offerings/{OFFERING_ID}")
    page_path = f"/supplier/offerings/{OFFERING_ID}/vulnerabilities/{VULN_ID}"
    assert page_path in offering_page.text
    portal.fake.json(
        "POST", f"{REG}/vulnerabilities/{VULN_ID}/withdrawal",
        {"title": "Precondition Failed", "status": 412, "detail": "stale"}, status=412,
    )  # fmt: skip
    form_page = await portal.client.get(page_path)
    assert 'name="etag" value="&#34;w1&#34;"' in form_page.text  # the ETag of the read
    page = await submit(
        portal, page_path, page_path, {"reason": "Recorded in error", "etag": '"w0"'}
    )
    assert page.status_code == 409
    assert "intussen gewijzigd" in page.text
    assert "Recorded in error" in page.text  # the input is kept
    portal.fake.json(
        "POST",
        f"{REG}/vulnerabilities/{VULN_ID}/withdrawal",
        {**vulnerability, "status": "withdrawn"},
    )
    done = await submit(
        portal, page_path, page_path, {"reason": "Recorded in error", "etag": '"w1"'}
    )
    assert done.status_code == 303
    _, _, headers, body = posts(portal, f"{REG}/vulnerabilities/{VULN_ID}/withdrawal")[-1]
    assert headers["if-match"] == '"w1"'
    assert json.loads(body) == {"reason": "Recorded in error"}


async def test_supplier_records_an_integration(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    other = {"id": OTHER_ID, "name": "Zaakregister", "supplierId": "s-2",
             "facilityId": FACILITY_ID, "priceModel": "free"}  # fmt: skip
    offering = (await portal.client.get(f"/supplier/offerings/{OFFERING_ID}")).text
    new = f"/supplier/offerings/{OFFERING_ID}/integrations/new"
    assert new in offering
    portal.fake.json("GET", f"{REG}/offerings", page_of([other]))
    problem = {
        "title": "Conflict",
        "status": 409,
        "detail": "This integration is already recorded.",
    }
    portal.fake.json("POST", f"{REG}/integrations", problem, status=409)
    fields = {"targetOfferingId": OTHER_ID, "kind": "api", "direction": "two-way",
              "status": "active", "standards": "StUF-ZKN, ZGW API's"}  # fmt: skip
    page = await submit(portal, new, new, fields)
    assert page.status_code == 400
    assert "already recorded" in page.text
    assert 'value="StUF-ZKN, ZGW API&#39;s"' in page.text  # the input is kept
    portal.fake.json("POST", f"{REG}/integrations", INTEGRATION, status=201)
    done = await submit(portal, new, new, fields)
    assert done.status_code == 303
    _, _, headers, body = posts(portal, f"{REG}/integrations")[-1]
    assert headers["idempotency-key"]
    assert json.loads(body) == {
        "sourceOfferingId": OFFERING_ID, "targetOfferingId": OTHER_ID, "kind": "api",
        "direction": "two-way", "status": "active", "standards": ["StUF-ZKN", "ZGW API's"],
    }  # fmt: skip
