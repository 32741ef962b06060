"""Published tenders and their lots are readable without a token; drafts and cancelled
tenders are not shown to anonymous callers (404, as if absent), and enrollments,
mandates, demand, OCDS exports, history and decisions ahead need a token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from servicekit.testing import TestIssuer

from .conftest import FakeRegistry, open_tender, tender_body

PUBLIC = {
    "/tenders",
    "/tenders/{tenderId}",
    "/tenders/{tenderId}/lots",
    "/tenders/{tenderId}/lots/{lotId}",
}
# What a published tender's public answer must never carry: who enrolled, and how much.
ENROLLMENT_FIELDS = {"enrollments", "participants", "municipality", "mandate", "volume", "buyers"}


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_the_document_says_which_reads_are_public(app: Any) -> None:
    paths = app.openapi()["paths"]
    gets = {path: item["get"] for path, item in paths.items() if "get" in item}
    public = {path for path, op in gets.items() if {} in op.get("security", [])}
    assert public == PUBLIC
    for path in public:
        assert {"oauth2": ["procurement:read"]} in gets[path]["security"], path


async def test_anonymous_sees_published_tenders_only(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str]
) -> None:
    published = await open_tender(client, registry, lead_headers, title="Gepubliceerd")
    draft = (
        await client.post(
            "/v1/tenders", json=tender_body(registry, title="Concept"), headers=lead_headers
        )
    ).json()
    cancelled = await open_tender(client, registry, lead_headers, title="Ingetrokken")
    r = await client.post(
        f"/v1/tenders/{cancelled['id']}/cancellation",
        json={"reason": "budget withdrawn"},
        headers=lead_headers,
    )
    assert r.status_code == 200, r.text

    r = await client.get("/v1/tenders")
    assert r.status_code == 200
    assert [t["id"] for t in r.json()["items"]] == [published["id"]]
    assert r.json()["total"] == 1
    for status in ("draft", "cancelled"):
        r = await client.get("/v1/tenders", params={"status": status})
        assert r.json()["items"] == [], status
    r = await client.get("/v1/tenders", params={"status": "open-for-enrollment"})
    assert [t["id"] for t in r.json()["items"]] == [published["id"]]

    r = await client.get(f"/v1/tenders/{published['id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Gepubliceerd"
    assert len(body["lots"]) == 2
    assert not _keys(body) & ENROLLMENT_FIELDS
    lots = await client.get(f"/v1/tenders/{published['id']}/lots")
    assert lots.status_code == 200
    assert len(lots.json()) == 2
    lot_id = lots.json()[0]["id"]
    assert (await client.get(f"/v1/tenders/{published['id']}/lots/{lot_id}")).status_code == 200

    for hidden in (draft, cancelled):
        for path in ("", "/lots", f"/lots/{hidden['lots'][0]['id']}"):
            r = await client.get(f"/v1/tenders/{hidden['id']}{path}")
            assert r.status_code == 404, (hidden["title"], path)
            assert r.headers["content-type"] == "application/problem+json"

    # Holders of procurement:read see every tender, as before.
    r = await client.get("/v1/tenders", headers=lead_headers)
    assert r.json()["total"] == 3
    assert (await client.get(f"/v1/tenders/{draft['id']}", headers=lead_headers)).status_code == 200


async def test_a_token_without_the_read_scope_sees_what_the_public_sees(
    client: httpx.AsyncClient,
    registry: FakeRegistry,
    lead_headers: dict[str, str],
    issuer: TestIssuer,
) -> None:
    await open_tender(client, registry, lead_headers)
    await client.post("/v1/tenders", json=tender_body(registry), headers=lead_headers)
    registry_only = issuer.headers(scopes=["registry:read"])
    r = await client.get("/v1/tenders", headers=registry_only)
    assert r.status_code == 200
    assert r.json()["total"] == 1
    r = await client.get("/v1/tenders", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401


async def test_everything_else_needs_a_token(
    client: httpx.AsyncClient, registry: FakeRegistry, lead_headers: dict[str, str], app: Any
) -> None:
    tender = await open_tender(client, registry, lead_headers)
    ids = {"tenderId": tender["id"], "lotId": tender["lots"][0]["id"]}
    paths = app.openapi()["paths"]
    checked = 0
    for path, item in paths.items():
        op = item.get("get")
        if op is None or not op.get("security") or path in PUBLIC:
            continue
        url = "/v1" + path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", value)
        while "{" in url:
            start, end = url.index("{"), url.index("}")
            url = url[:start] + str(uuid.uuid4()) + url[end + 1 :]
        r = await client.get(url)
        assert r.status_code == 401, (path, r.status_code)
        checked += 1
    # enrollments (list, one, mandates), demand, demand.csv, ocds, history, decisions ahead
    assert checked >= 8
