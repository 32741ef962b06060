"""Organisations: identifiers, uniqueness, filters, members, operator-only writes."""

from __future__ import annotations

from typing import Any

import httpx

Maker = Any


def names(problem: dict[str, Any]) -> set[str]:
    return {p["name"] for p in problem.get("invalidParams", [])}


async def test_create_and_read_municipality(client: httpx.AsyncClient, tokens: Any) -> None:
    body = {
        "type": "municipality",
        "name": "Utrecht",
        "cbsCode": "gm0344",
        "oin": "0000.0001.0012.3456.7000",
        "province": "Utrecht",
    }
    r = await client.post("/v1/organisations", json=body, headers=tokens.operator())
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/v1/organisations/{created['id']}"
    etag = r.headers["etag"]
    assert created["cbsCode"] == "GM0344"  # normalised
    assert created["oin"] == tokens.UTRECHT_OIN
    assert created["memberIds"] == []
    assert set(created) >= {
        "id",
        "type",
        "name",
        "cbsCode",
        "oin",
        "kvkNumber",
        "province",
        "memberIds",
    }

    r = await client.get(f"/v1/organisations/{created['id']}", headers=tokens.reader())
    assert r.status_code == 200
    assert r.json() == created
    assert r.headers["etag"] == etag


async def test_invalid_identifiers_are_400_and_nothing_written(
    client: httpx.AsyncClient, tokens: Any
) -> None:
    cases = [
        ({"type": "municipality", "name": "X", "cbsCode": "GM34"}, "cbsCode"),
        ({"type": "municipality", "name": "X", "cbsCode": "GM0001", "oin": "123"}, "oin"),
        ({"type": "supplier", "name": "X", "kvkNumber": "1234567"}, "kvkNumber"),
        ({"type": "supplier", "name": "X"}, "kvkNumber"),
        ({"type": "municipality", "name": "X"}, "cbsCode"),
        ({"type": "operator", "name": "VNG"}, "oin"),
        (
            {"type": "supplier", "name": "X", "kvkNumber": "12345678", "cbsCode": "GM0001"},
            "cbsCode",
        ),
        (
            {"type": "municipality", "name": "X", "cbsCode": "GM0001", "province": "Texas"},
            "province",
        ),
        ({"type": "municipality", "name": "x" * 201, "cbsCode": "GM0001"}, "name"),
        ({"type": "club", "name": "X"}, "type"),
        ({"type": "municipality", "name": "X", "cbsCode": "GM0001", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = await client.post("/v1/organisations", json=body, headers=tokens.operator())
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in names(r.json()), (body, r.json())
    r = await client.get("/v1/organisations", headers=tokens.reader())
    assert r.json()["total"] == 0


async def test_unique_per_type(client: httpx.AsyncClient, tokens: Any, make_org: Maker) -> None:
    await make_org("supplier", kvkNumber="12345678")
    r = await client.post(
        "/v1/organisations",
        json={"type": "supplier", "name": "Other", "kvkNumber": "12345678"},
        headers=tokens.operator(),
    )
    assert r.status_code == 409
    assert "kvkNumber" in r.json()["detail"]
    await make_org("municipality", cbsCode="GM0307", oin=tokens.AMERSFOORT_OIN)
    r = await client.post(
        "/v1/organisations",
        json={"type": "municipality", "name": "Dup", "cbsCode": "GM0307"},
        headers=tokens.operator(),
    )
    assert r.status_code == 409
    # The same OIN may be registered for a different type (unique per type).
    r = await client.post(
        "/v1/organisations",
        json={"type": "cooperation", "name": "Coop", "oin": tokens.AMERSFOORT_OIN},
        headers=tokens.operator(),
    )
    assert r.status_code == 201


async def test_cooperation_members_must_be_municipalities(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    a = await make_org("municipality")
    b = await make_org("municipality")
    s = await make_org("supplier")
    r = await client.post(
        "/v1/organisations",
        json={"type": "cooperation", "name": "Coop", "memberIds": [a["id"], s["id"]]},
        headers=tokens.operator(),
    )
    assert r.status_code == 400
    assert names(r.json()) == {"memberIds[1]"}
    r = await client.post(
        "/v1/organisations",
        json={"type": "cooperation", "name": "Coop", "memberIds": [a["id"], b["id"], a["id"]]},
        headers=tokens.operator(),
    )
    assert r.status_code == 201
    assert sorted(r.json()["memberIds"]) == sorted([a["id"], b["id"]])
    r = await client.post(
        "/v1/organisations",
        json={"type": "supplier", "name": "S", "kvkNumber": "55555555", "memberIds": [a["id"]]},
        headers=tokens.operator(),
    )
    assert r.status_code == 400
    assert names(r.json()) == {"memberIds"}


async def test_filters_and_search(client: httpx.AsyncClient, tokens: Any, make_org: Maker) -> None:
    utrecht = await make_org(
        "municipality", name="Utrecht", cbsCode="GM0344", oin=tokens.UTRECHT_OIN
    )
    await make_org("municipality", name="Amersfoort", cbsCode="GM0307")
    supplier = await make_org("supplier", name="Telecom B.V.", kvkNumber="87654321")
    coop = await make_org("cooperation", name="Regio Utrecht", memberIds=[utrecht["id"]])

    async def query(params: dict[str, str]) -> list[dict[str, Any]]:
        r = await client.get("/v1/organisations", params=params, headers=tokens.reader())
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    assert [o["id"] for o in await query({"oin": tokens.UTRECHT_OIN})] == [utrecht["id"]]
    assert [o["id"] for o in await query({"kvkNumber": "87654321"})] == [supplier["id"]]
    assert [o["id"] for o in await query({"cbsCode": "GM0344"})] == [utrecht["id"]]
    assert [o["name"] for o in await query({"type": "municipality"})] == ["Amersfoort", "Utrecht"]
    assert {o["id"] for o in await query({"q": "utrecht"})} == {utrecht["id"], coop["id"]}
    coop_item = (await query({"type": "cooperation"}))[0]
    assert coop_item["memberIds"] == [utrecht["id"]]
    assert await query({"q": "100%_"}) == []
    for bad in ({"oin": "12"}, {"kvkNumber": "abc"}, {"cbsCode": "0344"}, {"type": "x"}):
        r = await client.get("/v1/organisations", params=bad, headers=tokens.reader())
        assert r.status_code == 400, bad


async def test_pagination_links(client: httpx.AsyncClient, tokens: Any, make_org: Maker) -> None:
    for _ in range(3):
        await make_org("supplier")
    r = await client.get("/v1/organisations?pageSize=2", headers=tokens.reader())
    page = r.json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    assert page["_links"]["next"]
    assert page["_links"].get("prev") is None
    r = await client.get(page["_links"]["next"]["href"], headers=tokens.reader())
    assert len(r.json()["items"]) == 1


async def test_only_operator_writes(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    body = {"type": "supplier", "name": "S", "kvkNumber": "11112222"}
    r = await client.post("/v1/organisations", json=body, headers=tokens.municipality())
    assert r.status_code == 403
    r = await client.post("/v1/organisations", json=body, headers=tokens.reader())
    assert r.status_code == 403
    assert r.json()["requiredScopes"] == ["registry:write"]
    r = await client.post("/v1/organisations", json=body)
    assert r.status_code == 401
    r = await client.get("/v1/organisations")
    assert r.status_code == 200  # the public catalogue (tests/registry/test_public_access.py)
    org = await make_org("supplier")
    r = await client.patch(
        f"/v1/organisations/{org['id']}",
        json={"name": "N"},
        headers={**tokens.supplier(kvk=org["kvkNumber"]), "If-Match": "*"},
    )
    assert r.status_code == 403


async def test_patch_needs_if_match(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker
) -> None:
    org = await make_org("municipality", name="Old")
    url = f"/v1/organisations/{org['id']}"
    r = await client.get(url, headers=tokens.reader())
    etag = r.headers["etag"]
    r = await client.patch(url, json={"name": "New"}, headers=tokens.operator())
    assert r.status_code == 428
    r = await client.patch(
        url, json={"name": "New"}, headers={**tokens.operator(), "If-Match": '"stale"'}
    )
    assert r.status_code == 412
    r = await client.patch(
        url,
        content=b'{"name": "New", "oin": "00000001001234567000"}',
        headers={
            **tokens.operator(),
            "If-Match": etag,
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "New"
    assert r.json()["oin"] == "00000001001234567000"
    assert r.headers["etag"] != etag
    # The old ETag is now stale.
    r = await client.patch(
        url, json={"name": "Newer"}, headers={**tokens.operator(), "If-Match": etag}
    )
    assert r.status_code == 412
    r = await client.patch(
        url, json={"cbsCode": None}, headers={**tokens.operator(), "If-Match": "*"}
    )
    assert r.status_code == 400
    r = await client.get(url, headers=tokens.reader())
    assert r.json()["name"] == "New"


async def test_unknown_organisation_404(client: httpx.AsyncClient, tokens: Any) -> None:
    r = await client.get(
        "/v1/organisations/00000000-0000-0000-0000-000000000000", headers=tokens.reader()
    )
    assert r.status_code == 404
    r = await client.get("/v1/organisations/not-a-uuid", headers=tokens.reader())
    assert r.status_code == 400


async def test_idempotency_key(client: httpx.AsyncClient, tokens: Any) -> None:
    body = {"type": "supplier", "name": "Idem", "kvkNumber": "33334444"}
    headers = {**tokens.operator(), "Idempotency-Key": "k-1"}
    first = await client.post("/v1/organisations", json=body, headers=headers)
    second = await client.post("/v1/organisations", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["location"] == first.headers["location"]
    r = await client.get("/v1/organisations", headers=tokens.reader())
    assert r.json()["total"] == 1
    other = await client.post("/v1/organisations", json={**body, "name": "Other"}, headers=headers)
    assert other.status_code == 422
