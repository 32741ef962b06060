"""Full-text search: ranking, facets, filters, index kept in step, hostile input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import Uuid, bindparam, text

from registry.search.schemas import SearchResults
from servicekit.db import Database

Maker = Any


async def _search(client: httpx.AsyncClient, tokens: Any, **params: Any) -> dict[str, Any]:
    r = await client.get("/v1/search", params=params, headers=tokens.reader())
    assert r.status_code == 200, r.text
    body = dict(r.json())
    _assert_documented(body)
    return body


def _assert_documented(body: dict[str, Any]) -> None:
    """The answer is exactly what the documented schema gives (search/service.py writes
    its JSON without the models): no member missing, extra or of another type, and the
    facet counts largest first."""
    assert (
        SearchResults.model_validate(body).model_dump(mode="json", by_alias=True, exclude_none=True)
        == body
    )
    for counts in body["facets"].values():
        assert counts == sorted(counts, key=lambda c: (-c["count"], c["value"]))


async def test_ranking_facets_and_filters(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    telefonie = await make_facility(
        slug="gt", name="Telefonie collectief", kind="agreement", theme="telephony",
        description="Gezamenlijke aanbesteding voor vaste en mobiele diensten.",
    )  # fmt: skip
    netwerk = await make_facility(
        slug="ggi", name="GGI-Netwerk", kind="infrastructure", theme="connectivity",
        description="Beveiligd netwerk; ook geschikt voor telefonie van gemeenten.",
    )  # fmt: skip
    await make_facility(
        slug="ibd", name="IBD", kind="service", theme="security", description="CERT"
    )
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": telefonie["id"], "name": "Telefonie Zakelijk", "priceModel": "per-user",
              "description": "Bellen en data"},
        headers=tokens.supplier(),
    )  # fmt: skip
    offering = r.json()

    result = await _search(client, tokens, q="telefonie")
    ids = [hit["id"] for hit in result["items"]]
    assert set(ids) == {telefonie["id"], netwerk["id"], offering["id"]}
    # A match in the name ranks above a match in the description only.
    assert ids.index(telefonie["id"]) < ids.index(netwerk["id"])
    assert ids.index(offering["id"]) < ids.index(netwerk["id"])
    assert result["total"] == 3
    facets = result["facets"]
    assert {f["value"]: f["count"] for f in facets["type"]} == {"facility": 2, "offering": 1}
    assert {f["value"]: f["count"] for f in facets["kind"]} == {"agreement": 2, "infrastructure": 1}
    assert {f["value"]: f["count"] for f in facets["theme"]} == {"telephony": 2, "connectivity": 1}
    hit = next(h for h in result["items"] if h["id"] == offering["id"])
    assert hit["type"] == "offering"
    assert hit["facilityId"] == telefonie["id"]
    assert hit["kind"] == "agreement"

    filtered = await _search(client, tokens, q="telefonie", kind="infrastructure")
    assert [h["id"] for h in filtered["items"]] == [netwerk["id"]]
    assert filtered["total"] == 1
    assert filtered["facets"] == facets  # facets describe all matches of q
    only_offerings = await _search(client, tokens, q="telefonie", type="offering")
    assert [h["id"] for h in only_offerings["items"]] == [offering["id"]]
    themed = await _search(client, tokens, q="telefonie", theme="Telephony")
    assert themed["total"] == 2
    both_filters = await _search(client, tokens, q="telefonie", type="facility", kind="agreement")
    assert [h["id"] for h in both_filters["items"]] == [telefonie["id"]]
    assert both_filters["total"] == 1
    assert both_filters["facets"] == facets
    paged = await _search(client, tokens, q="telefonie", pageSize=2, page=2)
    assert paged["total"] == 3
    assert len(paged["items"]) == 1
    both = await _search(client, tokens, q="telefonie gemeenten")
    assert [h["id"] for h in both["items"]] == [netwerk["id"]]
    assert (await _search(client, tokens, q="onbekendwoord"))["items"] == []


async def test_index_follows_changes(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    facility = await make_facility(name="Oude naam", description="niets")
    assert (await _search(client, tokens, q="oude"))["total"] == 1
    url = f"/v1/facilities/{facility['id']}"
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    r = await client.patch(
        url, json={"name": "Zaaksysteem"}, headers={**tokens.operator(), "If-Match": etag}
    )
    assert r.status_code == 200
    assert (await _search(client, tokens, q="oude"))["total"] == 0
    assert (await _search(client, tokens, q="zaaksysteem"))["total"] == 1
    r = await client.delete(url, headers=tokens.operator())
    assert r.status_code == 204
    assert (await _search(client, tokens, q="zaaksysteem"))["total"] == 0


async def test_hits_and_facets_follow_changes_of_the_facility_and_the_offering(
    client: httpx.AsyncClient,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
    registry_db: Database,
) -> None:
    """An offering's hit shows (and its facets count) its facility's current kind, theme
    and stage: on PostgreSQL they are copied into the search table by triggers."""
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    facility = await make_facility(
        name="Netwerk", kind="infrastructure", theme="connectivity", description="Verbinding"
    )
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": "Glasvezel Snel", "priceModel": "fixed",
              "description": "Glasvezel naar elk gemeentehuis"},
        headers=tokens.supplier(),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    offering = r.json()
    (hit,) = (await _search(client, tokens, q="glasvezel"))["items"]
    assert (hit["id"], hit["kind"], hit["theme"], hit["stage"]) == (
        offering["id"], "infrastructure", "connectivity", "initiative"
    )  # fmt: skip

    url = f"/v1/facilities/{facility['id']}"
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    r = await client.patch(
        url,
        json={"kind": "service", "theme": "telephony"},
        headers={**tokens.operator(), "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"{url}/stage-transitions",
        json={"toStage": "pilot", "reason": "Eerste gemeenten"},
        headers=tokens.operator(),
    )
    assert r.status_code == 201, r.text
    moved = await _search(client, tokens, q="glasvezel")
    (hit,) = moved["items"]
    assert (hit["kind"], hit["theme"], hit["stage"]) == ("service", "telephony", "pilot")
    assert moved["facets"]["kind"] == [{"value": "service", "count": 1}]
    assert moved["facets"]["theme"] == [{"value": "telephony", "count": 1}]
    assert (await _search(client, tokens, q="glasvezel", kind="service"))["total"] == 1
    assert (await _search(client, tokens, q="glasvezel", kind="infrastructure"))["total"] == 0
    (own,) = (await _search(client, tokens, q="netwerk"))["items"]
    assert (own["id"], own["type"], own["stage"]) == (facility["id"], "facility", "pilot")

    offering_url = f"/v1/offerings/{offering['id']}"
    etag = (await client.get(offering_url, headers=tokens.reader())).headers["etag"]
    r = await client.patch(
        offering_url,
        json={"name": "Koper Traag", "description": "Koperen lijnen"},
        headers={**tokens.supplier(), "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert (await _search(client, tokens, q="glasvezel"))["total"] == 0
    (hit,) = (await _search(client, tokens, q="koper"))["items"]
    assert (hit["id"], hit["name"], hit["kind"]) == (offering["id"], "Koper Traag", "service")

    # No API deletes an offering; the database's own delete takes its hit with it (asked
    # with other words: SQL by hand writes no change event, the read cache keeps "koper").
    delete = text("DELETE FROM offerings WHERE id = :id").bindparams(bindparam("id", type_=Uuid))
    async with registry_db.engine.begin() as conn:
        await conn.execute(delete, {"id": uuid.UUID(offering["id"])})
    assert (await _search(client, tokens, q="koper lijnen"))["total"] == 0
    r = await client.delete(url, headers=tokens.operator())
    assert r.status_code == 204
    assert (await _search(client, tokens, q="netwerk"))["total"] == 0


async def test_bad_and_hostile_input(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker
) -> None:
    await make_facility(name="Netwerk")
    for params in (
        {},
        {"q": ""},
        {"q": "x" * 201},
        {"q": "a", "kind": "gadget"},
        {"q": "a", "type": "user"},
    ):
        r = await client.get("/v1/search", params=params, headers=tokens.reader())
        assert r.status_code == 400, params
    for q in ('"', "name:x OR NEAR(a b", "'; DROP TABLE facilities; --", "*", "{name} : x", "!!!"):
        r = await client.get("/v1/search", params={"q": q}, headers=tokens.reader())
        assert r.status_code == 200, (q, r.text)
        _assert_documented(r.json())
    assert (await _search(client, tokens, q="netwerk"))["total"] == 1
    assert (await client.get("/v1/search?q=x")).status_code == 200  # public
