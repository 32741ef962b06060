"""Offerings and versions: only the owning supplier's staff may write."""

from __future__ import annotations

from typing import Any

import httpx

Maker = Any


async def _setup(make_org: Maker, make_facility: Maker, tokens: Any) -> tuple[dict[str, Any], ...]:
    supplier = await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    other = await make_org("supplier", kvkNumber=tokens.OTHER_KVK)
    facility = await make_facility()
    return supplier, other, facility


async def test_supplier_creates_and_changes_own_offering(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    supplier, _other, facility = await _setup(make_org, make_facility, tokens)
    body = {
        "facilityId": facility["id"],
        "name": "Telefonie Zakelijk",
        "priceModel": "per-user",
        "productUrl": "https://example.nl/telefonie",
        "standards": ["SIP"],
        "certifications": ["ISO 27001"],
    }
    r = await client.post("/v1/offerings", json=body, headers=tokens.supplier())
    assert r.status_code == 201, r.text
    offering = r.json()
    assert offering["supplierId"] == supplier["id"]  # defaults to the caller's organisation
    assert r.headers["location"] == f"/v1/offerings/{offering['id']}"
    url = f"/v1/offerings/{offering['id']}"
    etag = (await client.get(url, headers=tokens.reader())).headers["etag"]
    r = await client.patch(
        url, json={"priceModel": "fixed"}, headers={**tokens.supplier(), "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    assert r.json()["priceModel"] == "fixed"
    r = await client.get(f"/v1/offerings?facilityId={facility['id']}", headers=tokens.reader())
    assert r.json()["total"] == 1
    r = await client.get(
        f"/v1/offerings?supplierId={supplier['id']}&q=zakelijk", headers=tokens.reader()
    )
    assert r.json()["total"] == 1
    # LIKE wildcards in the text filter are literal characters, not patterns.
    for wildcard in ("%", "_", "z_kelijk", "/"):
        r = await client.get("/v1/offerings", params={"q": wildcard}, headers=tokens.reader())
        assert r.status_code == 200, wildcard
        assert r.json()["total"] == 0, wildcard


async def test_other_parties_cannot_write(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    supplier, other, facility = await _setup(make_org, make_facility, tokens)
    body = {"facilityId": facility["id"], "name": "X", "priceModel": "free"}
    # Another supplier may not register an offering in this supplier's name.
    r = await client.post(
        "/v1/offerings",
        json={**body, "supplierId": supplier["id"]},
        headers=tokens.supplier(kvk=tokens.OTHER_KVK),
    )
    assert r.status_code == 403
    for headers in (tokens.municipality(), tokens.operator()):
        r = await client.post("/v1/offerings", json=body, headers=headers)
        assert r.status_code == 403
    # A supplier token whose KvK number is not registered.
    r = await client.post("/v1/offerings", json=body, headers=tokens.supplier(kvk="99999999"))
    assert r.status_code == 403
    r = await client.post("/v1/offerings", json=body, headers=tokens.supplier())
    offering = r.json()
    url = f"/v1/offerings/{offering['id']}"
    r = await client.patch(
        url, json={"name": "Y"}, headers={**tokens.supplier(kvk=tokens.OTHER_KVK), "If-Match": "*"}
    )
    assert r.status_code == 403
    r = await client.post(
        f"{url}/versions",
        json={"version": "1.0", "releaseDate": "2025-01-01"},
        headers=tokens.supplier(kvk=tokens.OTHER_KVK),
    )
    assert r.status_code == 403
    r = await client.get(url, headers=tokens.reader())
    assert r.json()["name"] == "X"
    assert other["id"] != supplier["id"]


async def test_offering_bad_input(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    _supplier, _other, facility = await _setup(make_org, make_facility, tokens)
    base = {"facilityId": facility["id"], "name": "X", "priceModel": "free"}
    for body in (
        {**base, "facilityId": "00000000-0000-0000-0000-000000000001"},
        {**base, "priceModel": "barter"},
        {**base, "productUrl": "javascript:alert(1)"},
        {**base, "supplierId": facility["id"]},
        {**base, "standards": ["x" * 101]},
    ):
        r = await client.post("/v1/offerings", json=body, headers=tokens.supplier())
        assert r.status_code == 400, (body, r.text)
    assert (await client.get("/v1/offerings", headers=tokens.reader())).json()["total"] == 0


async def test_versions(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    _supplier, _other, facility = await _setup(make_org, make_facility, tokens)
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": "X", "priceModel": "free"},
        headers=tokens.supplier(),
    )
    url = f"/v1/offerings/{r.json()['id']}/versions"
    r = await client.post(
        url,
        json={"version": "1.0", "releaseDate": "2025-01-01", "endOfSupportDate": "2027-12-31"},
        headers=tokens.supplier(),
    )
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert r.headers["location"] == f"{url}/{v1['id']}"
    r = await client.post(
        url, json={"version": "1.0", "releaseDate": "2025-02-01"}, headers=tokens.supplier()
    )
    assert r.status_code == 409
    r = await client.post(
        url,
        json={"version": "2.0", "releaseDate": "2026-01-01", "endOfSupportDate": "2025-12-31"},
        headers=tokens.supplier(),
    )
    assert r.status_code == 400
    assert r.json()["invalidParams"][0]["name"] == "endOfSupportDate"
    r = await client.post(
        url, json={"version": "2.0", "releaseDate": "2026-01-01"}, headers=tokens.supplier()
    )
    assert r.status_code == 201
    r = await client.get(url, headers=tokens.reader())
    assert [v["version"] for v in r.json()["items"]] == ["2.0", "1.0"]
    vurl = f"{url}/{v1['id']}"
    r = await client.get(vurl, headers=tokens.reader())
    etag = r.headers["etag"]
    r = await client.patch(
        vurl,
        json={"endOfSupportDate": "2024-01-01"},
        headers={**tokens.supplier(), "If-Match": etag},
    )
    assert r.status_code == 400
    r = await client.patch(
        vurl,
        json={"endOfSupportDate": "2028-06-30"},
        headers={**tokens.supplier(), "If-Match": etag},
    )
    assert r.status_code == 200
    assert r.json()["endOfSupportDate"] == "2028-06-30"
    r = await client.patch(
        vurl, json={"notes": "x"}, headers={**tokens.supplier(), "If-Match": etag}
    )
    assert r.status_code == 412


async def test_list_totals_stay_exact(
    client: httpx.AsyncClient,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
    registry_db: Any,
) -> None:
    """The unfiltered list's total comes from a trigger-kept counter on PostgreSQL
    (migration 0007), filtered totals from counting; both must equal the real count,
    also on a page past the end."""
    from sqlalchemy import text

    _supplier, _other, facility = await _setup(make_org, make_facility, tokens)
    second = await make_facility()
    for i, target in enumerate([facility, facility, second]):
        body = {"facilityId": target["id"], "name": f"Aanbod {i}", "priceModel": "fixed"}
        r = await client.post("/v1/offerings", json=body, headers=tokens.supplier())
        assert r.status_code == 201, r.text
    reader = tokens.reader()
    r = await client.get("/v1/offerings", params={"pageSize": 2}, headers=reader)
    assert r.json()["total"] == 3
    assert [i["name"] for i in r.json()["items"]] == ["Aanbod 0", "Aanbod 1"]
    assert "next" in r.json()["_links"]
    r = await client.get("/v1/offerings", params={"pageSize": 2, "page": 9}, headers=reader)
    assert (r.json()["items"], r.json()["total"]) == ([], 3)
    r = await client.get("/v1/offerings", params={"facilityId": facility["id"]}, headers=reader)
    assert r.json()["total"] == 2
    r = await client.get(
        "/v1/offerings", params={"facilityId": facility["id"], "page": 3}, headers=reader
    )
    assert (r.json()["items"], r.json()["total"]) == ([], 2)
    async with registry_db.engine.connect() as conn:
        real = (await conn.execute(text("SELECT count(*) FROM offerings"))).scalar_one()
        kept = (
            await conn.execute(text("SELECT n FROM row_counts WHERE name = 'offerings'"))
        ).scalar_one_or_none()
        await conn.rollback()
        if registry_db.engine.dialect.name == "postgresql":
            assert kept == real == 3  # inserts counted in their own transaction
            # A delete (rolled back) moves the counter with it, and back.
            await conn.execute(text("DELETE FROM offerings WHERE name = 'Aanbod 2'"))
            moved = (
                await conn.execute(text("SELECT n FROM row_counts WHERE name = 'offerings'"))
            ).scalar_one()
            assert moved == 2
            await conn.rollback()
        else:
            assert kept is None  # SQLite counts
    r = await client.get("/v1/offerings", headers=reader)
    assert r.json()["total"] == 3
