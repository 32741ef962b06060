"""The public catalogue: which reads anonymous callers may make, said in the OpenAPI
document (a security requirement with the empty alternative ``{}``) and true in the
answers; every other read needs a token. Anonymous callers see exactly what a reader
sees on the public reads, and those answers carry no contract, cost or notice fields."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

Maker = Any

PUBLIC = {
    "/facilities",
    "/facilities/{facilityId}",
    "/offerings",
    "/offerings/{offeringId}",
    "/offerings/{offeringId}/versions",
    "/offerings/{offeringId}/versions/{versionId}",
    "/organisations",
    "/organisations/{organisationId}",
    "/initiatives",
    "/initiatives/{facilityId}",
    "/search",
    "/integrations",
    "/integrations/{integrationId}",
}
# Fields of contracts, costs and notices: never in a public answer.
PRIVATE_FIELDS = {
    "contractEndDate",
    "noticePeriodMonths",
    "noticeDeadline",
    "contractValueBand",
    "usageId",
    "costs",
}


def _get_operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    paths = app.openapi()["paths"]
    return {path: item["get"] for path, item in paths.items() if "get" in item}


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


async def _world(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> dict[str, str]:
    utrecht = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    facility = await make_facility(name="Telefonie", description="Vaste en mobiele telefonie")
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": "Telefonie Plus", "priceModel": "per-user"},
        headers=tokens.supplier(),
    )
    assert r.status_code == 201, r.text
    offering = r.json()
    r = await client.post(
        f"/v1/offerings/{offering['id']}/versions",
        json={"version": "1.0", "releaseDate": "2024-01-01"},
        headers=tokens.supplier(),
    )
    assert r.status_code == 201, r.text
    version = r.json()
    r = await client.post(
        "/v1/usages",
        json={
            "municipalityId": utrecht["id"],
            "facilityId": facility["id"],
            "offeringId": offering["id"],
            "versionId": version["id"],
            "status": "active",
            "startDate": "2024-01-01",
            "contractEndDate": "2027-06-30",
            "noticePeriodMonths": 6,
            "contractValueBand": "215k-750k",
        },
        headers=tokens.municipality(),
    )
    assert r.status_code == 201, r.text
    usage_id = r.json()["id"]
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": "Telefonie Koppeling", "priceModel": "free"},
        headers=tokens.supplier(),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/integrations",
        json={
            "sourceOfferingId": offering["id"],
            "targetOfferingId": r.json()["id"],
            "kind": "api",
            "direction": "one-way",
        },
        headers=tokens.supplier(),
    )
    assert r.status_code == 201, r.text
    return {
        "integrationId": r.json()["id"],
        "facilityId": facility["id"],
        "offeringId": offering["id"],
        "versionId": version["id"],
        "organisationId": utrecht["id"],
        "usageId": usage_id,
    }


def _url(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    # Parameters of sub-resources this test does not create: a syntactically valid id.
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return "/v1" + path


def test_the_document_says_which_reads_are_public(registry_app: FastAPI) -> None:
    operations = _get_operations(registry_app)
    public = {path for path, op in operations.items() if {} in op.get("security", [])}
    assert public == PUBLIC
    for path in public:
        security = operations[path]["security"]
        # A token with registry:read, or none at all.
        assert {"oauth2": ["registry:read"]} in security, path
    for path, op in operations.items():
        if path not in public and path not in ("/openapi.json",):
            assert op.get("security"), f"{path} documents no security requirement"


async def test_anonymous_reads_public_and_is_refused_the_rest(
    client: httpx.AsyncClient,
    registry_app: FastAPI,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
) -> None:
    ids = await _world(client, tokens, make_org, make_facility)
    for path, op in sorted(_get_operations(registry_app).items()):
        if not op.get("security"):
            continue
        url = _url(path, ids)
        params = {"q": "telefonie"} if path == "/search" else {}
        anonymous = await client.get(url, params=params)
        if path in PUBLIC:
            assert anonymous.status_code == 200, (path, anonymous.text)
            reader = await client.get(url, params=params, headers=tokens.reader())
            assert anonymous.json() == reader.json(), path
            assert not _keys(anonymous.json()) & PRIVATE_FIELDS, path
        else:
            assert anonymous.status_code == 401, (path, anonymous.status_code)
            assert anonymous.headers["content-type"] == "application/problem+json"


async def test_a_bad_token_on_a_public_read_is_still_refused(
    client: httpx.AsyncClient, tokens: Any
) -> None:
    r = await client.get("/v1/facilities", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401
    # Any valid token will do: the catalogue needs no scope.
    other = tokens.issuer.headers(scopes=["procurement:read"])
    assert (await client.get("/v1/facilities", headers=other)).status_code == 200
    assert (await client.get("/v1/usages", headers=other)).status_code == 403


async def test_search_finds_for_anonymous_callers(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> None:
    await _world(client, tokens, make_org, make_facility)
    r = await client.get("/v1/search", params={"q": "telefonie"})
    assert r.status_code == 200
    assert {hit["type"] for hit in r.json()["items"]} == {"facility", "offering"}
