"""Downloads: usages, offerings and the radar as CSV (no formulas for spreadsheets), a
municipality's landscape as ArchiMate exchange format (checked for its structure)."""

from __future__ import annotations

import csv
import io
from typing import Any
from xml.etree import ElementTree as ET

import httpx

Maker = Any
NS = "{http://www.opengroup.org/xsd/archimate/3.0/}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


async def _world(client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker) -> dict[str, Any]:  # fmt: skip
    utrecht = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    supplier = await make_org("supplier", name="+Leverancier", kvkNumber=tokens.SUPPLIER_KVK)
    phone = await make_facility(slug="telefonie", name="Telefonie", theme="telephony")
    joint = await make_facility(
        slug="samen-bellen", name="Samen bellen", theme="telephony", stage="implementation"
    )
    offerings = []
    for name in ('=HYPERLINK("http://x")', "Zaaksysteem & <Co>"):
        r = await client.post(
            "/v1/offerings",
            json={"facilityId": phone["id"], "name": name, "priceModel": "free",
                  "description": "@risk", "standards": ["StUF", "ZGW"]},
            headers=tokens.supplier(),
        )  # fmt: skip
        assert r.status_code == 201, r.text
        offerings.append(r.json())
    r = await client.post(
        f"/v1/offerings/{offerings[1]['id']}/versions",
        json={"version": "-1.0", "releaseDate": "2024-01-01"},
        headers=tokens.supplier(),
    )
    version = r.json()
    csv_body = (
        "facilityId,offeringId,versionId,status,contractEndDate,noticePeriodMonths,annualCost\r\n"
        f"telefonie,{offerings[1]['id']},-1.0,active,2027-03-31,6,1000\r\n"
    ).encode()
    r = await client.post(
        f"/v1/organisations/{utrecht['id']}/usage-imports",
        content=csv_body,
        headers={**tokens.municipality(), "Content-Type": "text/csv"},
    )
    assert r.status_code == 201, r.text
    return {"utrecht": utrecht, "supplier": supplier, "phone": phone, "joint": joint,
            "offerings": offerings, "version": version, "usage": r.json()["usages"][0]}  # fmt: skip


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_usages_and_offerings_as_csv_without_formulas(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    rows = _rows(await client.get("/v1/exports/usages.csv", headers=tokens.contracts_reader()))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == w["usage"]["id"]
    assert (row["municipalityName"], row["facilityName"], row["offeringName"]) == (
        "Utrecht", "Telefonie", "Zaaksysteem & <Co>")  # fmt: skip
    assert (row["version"], row["contractEndDate"], row["annualCost"]) == (
        "'-1.0",
        "2027-03-31",
        "1000.0",
    )
    assert row["startDate"] == ""
    params = {"municipalityId": w["joint"]["id"]}
    filtered = await client.get(
        "/v1/exports/usages.csv", params=params, headers=tokens.contracts_reader()
    )
    assert _rows(filtered) == []
    assert filtered.text.startswith("id,municipalityId,facilityId,")
    offerings = _rows(
        await client.get("/v1/exports/offerings.csv", headers=tokens.contracts_reader())
    )
    assert {o["name"] for o in offerings} == {'\'=HYPERLINK("http://x")', "Zaaksysteem & <Co>"}
    assert {o["supplierName"] for o in offerings} == {"'+Leverancier"}
    assert {o["description"] for o in offerings} == {"'@risk"}
    assert {o["standards"] for o in offerings} == {"StUF; ZGW"}
    assert {o["versions"] for o in offerings} == {"", "'-1.0"}
    by_facility = await client.get(
        "/v1/exports/offerings.csv",
        params={"facilityId": w["joint"]["id"]},
        headers=tokens.contracts_reader(),
    )
    assert _rows(by_facility) == []
    for url in ("/v1/exports/usages.csv", "/v1/exports/offerings.csv"):
        r = await client.get(
            url, headers={**tokens.contracts_reader(), "Accept": "application/json"}
        )
        assert r.status_code == 406
        assert (await client.get(url)).status_code == 401
    r = await client.get("/v1/exports/usages.csv?status=gone", headers=tokens.contracts_reader())
    assert r.status_code == 400


async def test_radar_as_csv(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    params = {"asOf": "2026-06-01", "within": "P18M"}
    rows = _rows(
        await client.get(
            f"/v1/facilities/{w['joint']['id']}/radar.csv",
            params=params,
            headers=tokens.contracts_reader(),
        )
    )
    assert [(r["municipalityName"], r["noticeDeadline"], r["noticeDeadlinePassed"]) for r in rows] == [
        ("Utrecht", "2026-09-30", "false")]  # fmt: skip
    rows = _rows(
        await client.get(
            f"/v1/organisations/{w['utrecht']['id']}/radar.csv",
            params=params,
            headers=tokens.contracts_reader(),
        )
    )
    assert [(r["facilityName"], r["alternatives"]) for r in rows] == [("Telefonie", "Samen bellen")]
    r = await client.get(
        f"/v1/facilities/{w['utrecht']['id']}/radar.csv", headers=tokens.contracts_reader()
    )
    assert r.status_code == 404
    r = await client.get(
        f"/v1/organisations/{w['supplier']['id']}/radar.csv", headers=tokens.contracts_reader()
    )
    assert r.status_code == 400
    r = await client.get(
        f"/v1/facilities/{w['joint']['id']}/radar.csv?within=P99Y",
        headers=tokens.contracts_reader(),
    )
    assert r.status_code == 400


def check_ameff(body: bytes) -> ET.Element:
    """The exchange format's structure: namespace, a name, elements of known types with
    unique identifiers, relationships between existing elements, property references
    that are defined, and the ModelType's child order."""
    model = ET.fromstring(body)  # noqa: S314 (the service's own answer in a test)
    assert model.tag == f"{NS}model"
    order = [child.tag.removeprefix(NS) for child in model]
    expected = ["name", "documentation", "elements", "relationships", "propertyDefinitions"]
    assert order == [tag for tag in expected if tag in order]
    assert order[0] == "name"
    identifiers = [node.get("identifier") for node in model.iter() if node.get("identifier")]
    assert len(identifiers) == len(set(identifiers))
    assert all(i[0].isalpha() for i in identifiers)  # xs:ID
    elements = {e.get("identifier"): e for e in model.iter(f"{NS}element")}
    for element in elements.values():
        assert element.get(XSI_TYPE) in ("ApplicationComponent", "BusinessActor")
        assert element.find(f"{NS}name") is not None
        assert element.find(f"{NS}name").text
    for relation in model.iter(f"{NS}relationship"):
        assert relation.get(XSI_TYPE) in ("Serving", "Flow")
        assert relation.get("source") in elements
        assert relation.get("target") in elements
    definitions = {d.get("identifier") for d in model.iter(f"{NS}propertyDefinition")}
    for prop in model.iter(f"{NS}property"):
        assert prop.get("propertyDefinitionRef") in definitions
    return model


async def test_landscape_as_archimate(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    url = f"/v1/organisations/{w['utrecht']['id']}/landscape.xml"
    r = await client.get(url, headers=tokens.contracts_reader())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/xml; charset=utf-8"
    assert r.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    model = check_ameff(r.content)
    elements = list(model.iter(f"{NS}element"))
    components = [e for e in elements if e.get(XSI_TYPE) == "ApplicationComponent"]
    assert [c.find(f"{NS}name").text for c in components] == ["Zaaksysteem & <Co>"]
    assert components[0].get("identifier") == f"id-offering-{w['offerings'][1]['id']}"
    [serving] = list(model.iter(f"{NS}relationship"))
    assert serving.get("target") == f"id-organisation-{w['utrecht']['id']}"
    # An integration between two offerings in use: a Flow each way when two-way.
    archive = await make_facility(slug="archief", name="Archief")
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": archive["id"], "name": "E-depot", "priceModel": "free"},
        headers=tokens.supplier(),
    )
    depot = r.json()
    r = await client.post(
        "/v1/usages", json={"municipalityId": w["utrecht"]["id"], "facilityId": archive["id"],
                            "offeringId": depot["id"]}, headers=tokens.municipality(),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/integrations",
        json={"sourceOfferingId": w["offerings"][1]["id"], "targetOfferingId": depot["id"],
              "kind": "api", "standards": ["ZGW API's"], "direction": "two-way"},
        headers=tokens.supplier(),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    model = check_ameff((await client.get(url, headers=tokens.contracts_reader())).content)
    flows = [x for x in model.iter(f"{NS}relationship") if x.get(XSI_TYPE) == "Flow"]
    ends = {(f.get("source"), f.get("target")) for f in flows}
    there = (f"id-offering-{w['offerings'][1]['id']}", f"id-offering-{depot['id']}")
    assert ends == {there, there[::-1]}
    assert {f.find(f"{NS}name").text for f in flows} == {"api ZGW API's"}
    assert len(list(model.iter(f"{NS}relationship"))) == 4  # two Serving, two Flow
    r = await client.get(url, headers=tokens.contracts_reader())
    values = {p.get("propertyDefinitionRef"): p.find(f"{NS}value").text
              for p in components[0].iter(f"{NS}property")}  # fmt: skip
    assert values["id-property-version"] == "-1.0"
    assert values["id-property-facility"] == "Telefonie"
    # A municipality without offerings in use: just itself, no relationships.
    other = await make_org("municipality", name="Leeg")
    r = await client.get(
        f"/v1/organisations/{other['id']}/landscape.xml", headers=tokens.contracts_reader()
    )
    model = check_ameff(r.content)
    assert model.find(f"{NS}relationships") is None
    assert len(list(model.iter(f"{NS}element"))) == 1
    r = await client.get(
        f"/v1/organisations/{w['supplier']['id']}/landscape.xml", headers=tokens.contracts_reader()
    )
    assert r.status_code == 400
    r = await client.get(
        f"/v1/organisations/{w['phone']['id']}/landscape.xml", headers=tokens.contracts_reader()
    )
    assert r.status_code == 404
    r = await client.get(url, headers={**tokens.contracts_reader(), "Accept": "text/csv"})
    assert r.status_code == 406
