"""Integrations between offerings: recorded by the source offering's supplier or the
operator, validated, changed with If-Match (status forward only), public to read, on
the feed; a municipality's landscape shows its offerings and the integrations between."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

Maker = Any


async def _offering(client: httpx.AsyncClient, tokens: Any, facility: dict[str, Any],
                    name: str, kvk: str) -> dict[str, Any]:  # fmt: skip
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": name, "priceModel": "fixed"},
        headers=tokens.supplier(kvk),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _world(client: httpx.AsyncClient, tokens: Any, make_org: Maker,
                 make_facility: Maker) -> dict[str, Any]:  # fmt: skip
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK, name="Leverancier A")
    await make_org("supplier", kvkNumber=tokens.OTHER_KVK, name="Leverancier B")
    utrecht = await make_org(name="Utrecht", oin=tokens.UTRECHT_OIN)
    zaken = await make_facility(name="Zaakgericht werken")
    archief = await make_facility(name="E-depot")
    zaak = await _offering(client, tokens, zaken, "Zaaksysteem", tokens.SUPPLIER_KVK)
    depot = await _offering(client, tokens, archief, "Depot", tokens.OTHER_KVK)
    other = await _offering(client, tokens, archief, "Ander depot", tokens.OTHER_KVK)
    for facility, offering in ((zaken, zaak), (archief, depot)):
        r = await client.post(
            "/v1/usages",
            json={"municipalityId": utrecht["id"], "facilityId": facility["id"],
                  "offeringId": offering["id"]},
            headers=tokens.municipality(),
        )  # fmt: skip
        assert r.status_code == 201, r.text
    return {"utrecht": utrecht, "zaak": zaak, "depot": depot, "other": other}


def _body(world: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "sourceOfferingId": world["zaak"]["id"],
        "targetOfferingId": world["depot"]["id"],
        "kind": "api",
        "standards": ["ZGW API's"],
        "direction": "one-way",
        **fields,
    }


async def test_supplier_records_and_the_landscape_shows_it(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    world = await _world(client, tokens, make_org, make_facility)
    r = await client.post("/v1/integrations", json=_body(world), headers=tokens.supplier())
    assert r.status_code == 201, r.text
    integration = r.json()
    assert r.headers["location"] == f"/v1/integrations/{integration['id']}"
    assert integration["status"] == "active"
    assert integration["standards"] == ["ZGW API's"]
    r = await client.post(
        "/v1/integrations",
        json=_body(world, targetOfferingId=world["other"]["id"], status="planned"),
        headers=tokens.operator(),
    )
    assert r.status_code == 201, r.text

    # Public: read without a token, filtered by an offering on either side.
    r = await client.get(f"/v1/integrations?offeringId={world['depot']['id']}")
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [integration["id"]]
    r = await client.get(f"/v1/integrations?offeringId={world['zaak']['id']}&status=planned")
    assert r.json()["total"] == 1
    assert (await client.get(f"/v1/integrations/{integration['id']}")).status_code == 200

    r = await client.get(
        f"/v1/organisations/{world['utrecht']['id']}/landscape", headers=tokens.contracts_reader()
    )
    assert r.status_code == 200, r.text
    landscape = r.json()
    assert [o["offeringName"] for o in landscape["offerings"]] == ["Depot", "Zaaksysteem"]
    assert landscape["offerings"][0]["supplierName"] == "Leverancier B"
    assert landscape["offerings"][0]["version"] is None
    # Only integrations between offerings it uses.
    assert [i["id"] for i in landscape["integrations"]] == [integration["id"]]
    r = await client.get(
        f"/v1/organisations/{uuid.uuid4()}/landscape", headers=tokens.contracts_reader()
    )
    assert r.status_code == 404
    supplier = world["zaak"]["supplierId"]
    r = await client.get(
        f"/v1/organisations/{supplier}/landscape", headers=tokens.contracts_reader()
    )
    assert r.status_code == 400
    r = await client.get(f"/v1/organisations/{world['utrecht']['id']}/landscape")
    assert r.status_code == 401

    r = await client.get("/v1/events?limit=500", headers=tokens.reader())
    types = [e["type"] for e in r.json()["items"]]
    assert types[-2:] == ["nl.samen.registry.integration.created"] * 2


async def test_bad_input_and_strangers_are_refused(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    world = await _world(client, tokens, make_org, make_facility)
    bad = {
        "kind": {"kind": "carrier-pigeon"},
        "direction": {"direction": "sideways"},
        "status": {"status": "broken"},
        "sourceOfferingId": {"sourceOfferingId": str(uuid.uuid4())},
        "targetOfferingId": {"targetOfferingId": str(uuid.uuid4())},
    }
    for name, fields in bad.items():
        r = await client.post(
            "/v1/integrations", json=_body(world, **fields), headers=tokens.supplier()
        )
        assert r.status_code == 400, (name, r.text)
        assert name in [p["name"] for p in r.json()["invalidParams"]], r.text
    r = await client.post(
        "/v1/integrations",
        json=_body(world, targetOfferingId=world["zaak"]["id"]),
        headers=tokens.supplier(),
    )
    assert r.status_code == 400
    # Only the source offering's supplier (or the operator) records it.
    for headers in (tokens.supplier(tokens.OTHER_KVK), tokens.municipality()):
        r = await client.post("/v1/integrations", json=_body(world), headers=headers)
        assert r.status_code == 403, r.text
    r = await client.post("/v1/integrations", json=_body(world), headers=tokens.supplier())
    assert r.status_code == 201
    r = await client.post("/v1/integrations", json=_body(world), headers=tokens.supplier())
    assert r.status_code == 409


async def test_change_with_if_match_and_forward_status(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    world = await _world(client, tokens, make_org, make_facility)
    r = await client.post(
        "/v1/integrations", json=_body(world, status="planned"), headers=tokens.supplier()
    )
    url, stale = f"/v1/integrations/{r.json()['id']}", r.headers["etag"]
    change = {"status": "active", "direction": "two-way", "standards": ["StUF-ZKN"]}
    assert (await client.patch(url, json=change, headers=tokens.supplier())).status_code == 428
    r = await client.patch(
        url, json=change, headers={**tokens.supplier(tokens.OTHER_KVK), "If-Match": stale}
    )
    assert r.status_code == 403
    r = await client.patch(
        url, json={"kind": None}, headers={**tokens.supplier(), "If-Match": stale}
    )
    assert r.status_code == 400
    r = await client.patch(url, json=change, headers={**tokens.supplier(), "If-Match": stale})
    assert r.status_code == 200, r.text
    assert r.json()["direction"] == "two-way"
    etag = r.headers["etag"]
    r = await client.patch(
        url, json={"status": "ended"}, headers={**tokens.supplier(), "If-Match": stale}
    )
    assert r.status_code == 412
    r = await client.patch(
        url, json={"status": "planned"}, headers={**tokens.supplier(), "If-Match": etag}
    )
    assert r.status_code == 409
    r = await client.patch(
        url, json={"status": "ended"}, headers={**tokens.operator(), "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        f"/v1/organisations/{world['utrecht']['id']}/landscape", headers=tokens.contracts_reader()
    )
    assert r.json()["integrations"] == []  # ended ones are not part of the landscape
    r = await client.get("/v1/events?limit=500", headers=tokens.reader())
    assert r.json()["items"][-1]["type"] == "nl.samen.registry.integration.updated"
