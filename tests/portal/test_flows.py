"""Supplier staff, municipal staff and the platform operator against a scripted gateway:
who may open which page, what the forms send (the person's token, Idempotency-Key,
If-Match), and what a person sees back (messages, the newer data on a 412)."""

from __future__ import annotations

from typing import Any

from conftest import Portal
from test_errors import UTRECHT, csrf_of, form_id_of, page_of

SUPPLIER = {
    "org_type": "supplier",
    "org_id": "90000001",
    "org_name": "Voorbeeld Telecom B.V.",
    "roles": ["registry-editor"],
}
OPERATOR = {
    "org_type": "operator",
    "org_id": "00000001009876543000",
    "org_name": "VNG",
    "roles": ["platform-admin"],
}
OFFERING_ID = "22222222-2222-2222-2222-222222222222"
VERSION_ID = "33333333-3333-3333-3333-333333333333"
FACILITY_ID = "44444444-4444-4444-4444-444444444444"
FACILITY = {
    "id": FACILITY_ID,
    "slug": "ggi-netwerk",
    "name": "GGI-Netwerk",
    "description": "",
    "kind": "infrastructure",
    "theme": "connectivity",
    "stage": "pilot",
    "standards": [],
    "links": [],
    "providerId": None,
}


def script(portal: Portal) -> None:
    fake = portal.fake
    fake.json(
        "GET",
        "/api/registry/v1/organisations",
        page_of([{"id": "s-1", "name": "Voorbeeld Telecom B.V.", "type": "supplier"}]),
    )
    fake.json("GET", "/api/registry/v1/facilities", page_of([FACILITY]))
    fake.json("GET", f"/api/registry/v1/facilities/{FACILITY_ID}", FACILITY, ETag='"f1"')
    offering = {
        "id": OFFERING_ID,
        "supplierId": "s-1",
        "facilityId": FACILITY_ID,
        "name": "GT Vast",
        "description": "",
        "productUrl": None,
        "priceModel": "subscription",
        "standards": [],
        "updatedAt": "2026-12-01T10:00:00Z",
    }
    fake.json("GET", "/api/registry/v1/offerings", page_of([offering]))
    fake.json("GET", f"/api/registry/v1/offerings/{OFFERING_ID}", offering, ETag='"o2"')
    version = {
        "id": VERSION_ID,
        "offeringId": OFFERING_ID,
        "version": "5",
        "releaseDate": "2024-01-01",
        "endOfSupportDate": "2027-12-31",
        "standards": [],
        "notes": "",
    }
    fake.json("GET", f"/api/registry/v1/offerings/{OFFERING_ID}/versions", page_of([version]))
    fake.json("GET", "/api/registry/v1/vulnerabilities", page_of([]))
    fake.json("GET", "/api/registry/v1/integrations", page_of([]))
    fake.json(
        "GET", f"/api/registry/v1/offerings/{OFFERING_ID}/versions/{VERSION_ID}", version,
        ETag='"v2"',
    )  # fmt: skip


def posts(
    portal: Portal, path: str, method: str = "POST"
) -> list[tuple[str, str, dict[str, str], bytes]]:
    return [c for c in portal.fake.api_calls(path) if c[0] == method]


async def submit(portal: Portal, page_path: str, action: str, data: dict[str, Any]) -> Any:
    page = await portal.client.get(page_path)
    assert page.status_code == 200, page.text
    fields = {"csrf": csrf_of(page.text), "form_id": form_id_of(page.text), **data}
    return await portal.client.post(action, data=fields)


async def test_sections_are_only_for_their_organisation_and_role(portal: Portal) -> None:
    await portal.login(**UTRECHT)
    for path in ("/supplier/offerings", "/operator/facilities", "/operator/clients"):
        assert (await portal.client.get(path)).status_code == 403, path
    menu = (await portal.client.get("/accessibility")).text
    assert "/municipality/usages" in menu
    assert "/supplier/offerings" not in menu


async def test_supplier_registers_an_offering(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    portal.fake.json("POST", "/api/registry/v1/offerings", {"id": OFFERING_ID}, status=201)
    listing = await portal.client.get("/supplier/offerings")
    assert listing.status_code == 200
    assert "GT Vast" in listing.text
    done = await submit(
        portal,
        f"/supplier/offerings/new?facilityId={FACILITY_ID}",
        "/supplier/offerings/new",
        {"facilityId": FACILITY_ID, "name": "GT Mobiel", "priceModel": "per-user",
         "standards": "IPv6, Diginetwerk"},
    )  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == f"/supplier/offerings/{OFFERING_ID}"
    ((_, _, headers, body),) = posts(portal, "/api/registry/v1/offerings")
    assert headers["idempotency-key"]
    import json

    sent = json.loads(body)
    assert sent == {
        "facilityId": FACILITY_ID,
        "name": "GT Mobiel",
        "priceModel": "per-user",
        "standards": ["IPv6", "Diginetwerk"],
        "supplierId": "s-1",
    }
    page = await portal.client.get(done.headers["location"])
    assert "Het aanbod is geregistreerd" in page.text
    assert "31-12-2027" in page.text  # the version's end of support


async def test_supplier_version_edit_with_a_stale_etag_keeps_the_input(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    path = f"/api/registry/v1/offerings/{OFFERING_ID}/versions/{VERSION_ID}"
    portal.fake.json("PATCH", path, {"status": 412, "title": "Precondition Failed"}, status=412)
    page_path = f"/supplier/offerings/{OFFERING_ID}/versions/{VERSION_ID}"
    response = await submit(
        portal, page_path, page_path,
        {"etag": '"v1"', "releaseDate": "2024-01-01", "endOfSupportDate": "2029-06-30"},
    )  # fmt: skip
    assert response.status_code == 409
    assert "Iemand anders heeft dit intussen gewijzigd" in response.text
    assert 'value="2029-06-30"' in response.text
    assert "2027-12-31" in response.text
    ((_, _, headers, _body),) = posts(portal, path, "PATCH")
    assert headers["if-match"] == '"v1"'
    assert headers["content-type"] == "application/merge-patch+json"


async def test_supplier_adds_a_version_and_sees_the_field_message(portal: Portal) -> None:
    await portal.login(**SUPPLIER)
    script(portal)
    portal.fake.json(
        "POST",
        f"/api/registry/v1/offerings/{OFFERING_ID}/versions",
        {"status": 400, "title": "Bad Request", "invalidParams": [
            {"name": "endOfSupportDate", "reason": "must not be before the release date"}]},
        status=400,
    )  # fmt: skip
    page_path = f"/supplier/offerings/{OFFERING_ID}/versions/new"
    response = await submit(
        portal, page_path, page_path,
        {"version": "6", "releaseDate": "2026-01-01", "endOfSupportDate": "2025-01-01"},
    )  # fmt: skip
    assert response.status_code == 400
    assert 'id="f-endOfSupportDate-error"' in response.text
    assert "must not be before the release date" in response.text
    assert 'value="6"' in response.text


async def test_operator_registers_a_facility_and_moves_its_stage(portal: Portal) -> None:
    await portal.login(**OPERATOR)
    script(portal)
    # A slug another facility has: said next to the slug's field, the input kept.
    taken = {"status": 409, "title": "Conflict", "detail": "The slug 'ggi' is taken.",
             "invalidParams": [{"name": "slug", "reason": "taken"}]}  # fmt: skip
    portal.fake.json("POST", "/api/registry/v1/facilities", taken, status=409)
    refused = await submit(
        portal, "/operator/facilities/new", "/operator/facilities/new",
        {"name": "GGI", "slug": "ggi", "kind": "service", "theme": "identity",
         "stage": "initiative"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert 'id="f-slug-error">Deze waarde is al in gebruik. Kies een andere.</div>' in refused.text
    assert 'value="GGI"' in refused.text
    portal.fake.json("POST", "/api/registry/v1/facilities", {"id": FACILITY_ID}, status=201)
    transitions = f"/api/registry/v1/facilities/{FACILITY_ID}/stage-transitions"
    portal.fake.json("GET", transitions, page_of([]))
    portal.fake.json("POST", transitions, {"id": "t-1"}, status=201)
    done = await submit(
        portal, "/operator/facilities/new", "/operator/facilities/new",
        {"name": "Mijn Overheid", "slug": "mijn-overheid", "kind": "service",
         "theme": "identity", "stage": "initiative"},
    )  # fmt: skip
    assert done.status_code == 303
    page_path = f"/operator/facilities/{FACILITY_ID}"
    assert done.headers["location"] == page_path
    page = await portal.client.get(page_path)
    # Only forward moves are offered: pilot -> impact-analysis and later.
    assert (
        '<option value="initiative"'
        not in page.text.split('name="toStage"')[1].split("</select>")[0]
    )
    moved = await submit(
        portal, page_path, f"{page_path}/stage",
        {"toStage": "impact-analysis", "reason": "Pilot geslaagd"},
    )  # fmt: skip
    assert moved.status_code == 303
    ((_, _, headers, body),) = posts(portal, transitions)
    assert headers["idempotency-key"]
    assert b'"toStage":"impact-analysis"' in body.replace(b" ", b"")


async def test_operator_lists_the_relying_parties(portal: Portal) -> None:
    await portal.login(**OPERATOR)
    portal.fake.json(
        "GET",
        "/api/identity/v1/clients",
        page_of([{"clientId": "samen-portal", "name": "Samen portal",
                  "grantType": "authorization_code", "tokenEndpointAuthMethod": "private_key_jwt",
                  "minimumLoa": "http://eidas.europa.eu/LoA/low",
                  "allowedScopes": ["openid", "profile"]}]),
    )  # fmt: skip
    page = await portal.client.get("/operator/clients")
    assert page.status_code == 200
    assert "samen-portal" in page.text
    assert "Inloggen van personen" in page.text
    (call,) = portal.fake.api_calls("/api/identity/v1/clients")
    assert call[2]["authorization"].startswith("Bearer at-")  # the operator's own token
