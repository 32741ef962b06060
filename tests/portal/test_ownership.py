"""Edit and withdraw pages only for the person's organisation's records: another
municipality's usage, another supplier's offering (its versions and vulnerabilities), and
a vulnerability of another offering under one's own offering's address get an error page
before any form, for GET and POST, and nothing is sent."""

from __future__ import annotations

from conftest import Portal
from test_errors import UTRECHT, csrf_of, page_of, script_registry
from test_flows import OFFERING_ID, OPERATOR, SUPPLIER, VERSION_ID, script
from test_vulnerabilities import REG, VULN_ID
from test_vulnerability_changes import VULNERABILITY

USAGE_ID = "11111111-1111-1111-1111-111111111111"
OTHER_OFFERING = "77777777-7777-7777-7777-777777777777"
INTEGRATION_ID = "88888888-8888-8888-8888-888888888888"


def _writes(portal: Portal) -> list[tuple[str, str]]:
    return [(c[0], c[1]) for c in portal.fake.calls if c[0] in ("POST", "PATCH", "DELETE")]


async def test_another_municipality_s_usage_has_no_change_form(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    script_registry(portal)  # the person's municipality is m-1
    usage = {"id": USAGE_ID, "facilityId": "f-1", "municipalityId": "m-2", "offeringId": None,
             "versionId": None, "status": "active", "startDate": None,
             "contractEndDate": "2028-01-31", "noticePeriodMonths": 6,
             "contractValueBand": None}  # fmt: skip
    portal.fake.json("GET", f"{REG}/usages/{USAGE_ID}", usage, ETag='"v1"')
    portal.fake.json("GET", f"{REG}/facilities/f-1", {"id": "f-1", "name": "GGI-Netwerk"})
    page = await portal.client.get(f"/municipality/usages/{USAGE_ID}")
    assert page.status_code == 403
    assert f'action="/municipality/usages/{USAGE_ID}"' not in page.text
    token = csrf_of((await portal.client.get("/municipality/usages/new")).text)
    fields = {"csrf": token, "form_id": "x", "etag": '"v1"', "action": "end"}
    posted = await portal.client.post(f"/municipality/usages/{USAGE_ID}", data=fields)
    assert posted.status_code == 403
    assert not _writes(portal)


def _another_supplier_s(portal: Portal) -> None:
    script(portal)  # the person's organisation is s-1
    offering = {"id": OFFERING_ID, "supplierId": "s-2", "facilityId": "f-1", "name": "Ander",
                "description": "", "productUrl": None, "priceModel": "free", "standards": []}  # fmt: skip
    portal.fake.json("GET", f"{REG}/offerings/{OFFERING_ID}", offering, ETag='"o1"')
    portal.fake.json("GET", f"{REG}/vulnerabilities/{VULN_ID}", VULNERABILITY, ETag='"w1"')


async def test_another_supplier_s_offering_has_no_forms(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    _another_supplier_s(portal)
    token = csrf_of((await portal.client.get("/supplier/offerings/new")).text)
    base = f"/supplier/offerings/{OFFERING_ID}"
    pages = ("", "/versions/new", f"/versions/{VERSION_ID}", "/vulnerabilities/new",
             f"/vulnerabilities/{VULN_ID}", f"/vulnerabilities/{VULN_ID}/change",
             "/integrations/new", f"/integrations/{INTEGRATION_ID}")  # fmt: skip
    for path in pages:
        page = await portal.client.get(base + path)
        assert page.status_code == 403, path
        assert '<form method="post" action="/supplier' not in page.text, path
        posted = await portal.client.post(
            base + path, data={"csrf": token, "form_id": "x", "etag": '"o1"', "reason": "x"}
        )
        assert posted.status_code == 403, path
    assert not _writes(portal)


async def test_a_vulnerability_of_another_offering_is_not_shown_under_one_s_own(
    portal: Portal,
) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    elsewhere = {**VULNERABILITY, "offeringId": OTHER_OFFERING, "cveId": "CVE-2099-0666"}
    portal.fake.json("GET", f"{REG}/vulnerabilities/{VULN_ID}", elsewhere, ETag='"w1"')
    token = csrf_of((await portal.client.get("/supplier/offerings/new")).text)
    base = f"/supplier/offerings/{OFFERING_ID}/vulnerabilities/{VULN_ID}"
    for path in (base, f"{base}/change"):
        page = await portal.client.get(path)
        assert page.status_code == 404, path
        assert "CVE-2099-0666" not in page.text
        posted = await portal.client.post(
            path, data={"csrf": token, "form_id": "x", "etag": '"w1"', "reason": "x"}
        )
        assert posted.status_code == 404, path
    assert not _writes(portal)
    # Its own vulnerability is still shown; the operator still sees any offering's.
    portal.fake.json("GET", f"{REG}/vulnerabilities/{VULN_ID}", VULNERABILITY, ETag='"w1"')
    assert (await portal.client.get(base)).status_code == 200
    await portal.login(**OPERATOR)
    _another_supplier_s(portal)
    portal.fake.json("GET", f"{REG}/vulnerabilities", page_of([VULNERABILITY]))
    assert (await portal.client.get(base)).status_code == 200
    assert (await portal.client.get(f"{base}/change")).status_code == 200


async def test_an_integration_of_another_offering_is_not_shown_under_one_s_own(
    portal: Portal,
) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    elsewhere = {"id": INTEGRATION_ID, "sourceOfferingId": OTHER_OFFERING,
                 "targetOfferingId": OFFERING_ID, "kind": "api", "direction": "one-way",
                 "standards": [], "status": "active", "description": "Geheim"}  # fmt: skip
    portal.fake.json("GET", f"{REG}/integrations/{INTEGRATION_ID}", elsewhere, ETag='"i1"')
    token = csrf_of((await portal.client.get("/supplier/offerings/new")).text)
    path = f"/supplier/offerings/{OFFERING_ID}/integrations/{INTEGRATION_ID}"
    page = await portal.client.get(path)
    assert page.status_code == 404
    assert "Geheim" not in page.text
    posted = await portal.client.post(
        path, data={"csrf": token, "form_id": "x", "etag": '"i1"', "status": "ended"}
    )
    assert posted.status_code == 404
    assert not _writes(portal)
