"""The client registry REST API (/v1/clients) for platform administrators."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from idkit import ADMIN_ORG, RP, Browser, machine_token
from sqlalchemy import insert, select

from identity.db import idempotency_keys
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.migrations import upgrade
from servicekit.testing import fresh_database_url

BASE = {
    "clientId": "gemeente-demo-parkeren",
    "name": "Parkeervergunningen",
    "grantType": "authorization_code",
    "tokenEndpointAuthMethod": "client_secret_basic",
    "redirectUris": ["https://parkeren.example.nl/callback"],
    "allowedScopes": ["openid", "profile"],
    "minimumLoa": "http://eidas.europa.eu/LoA/substantial",
}


async def test_crud_with_etag_and_idempotency(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = dict(BASE, clientId="crud-client")
    headers = {**admin, "Idempotency-Key": "create-crud-client"}
    created = await http.post("/v1/clients", json=body, headers=headers)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["clientSecret"]
    assert created.headers["location"] == f"/v1/clients/{data['id']}"
    assert data["sector"] == "crud-client"
    again = await http.post("/v1/clients", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] == data["id"]
    assert (await http.post("/v1/clients", json=body, headers=admin)).status_code == 409

    read = await http.get(f"/v1/clients/{data['id']}", headers=admin)
    assert read.status_code == 200
    assert "clientSecret" not in read.json()
    etag = read.headers["etag"]
    change = dict(body, name="Parkeren 2", refreshTokens=True)
    assert (
        await http.put(f"/v1/clients/{data['id']}", json=change, headers=admin)
    ).status_code == 428
    stale = await http.put(
        f"/v1/clients/{data['id']}", json=change, headers={**admin, "If-Match": '"x"'}
    )
    assert stale.status_code == 412
    ok = await http.put(
        f"/v1/clients/{data['id']}", json=change, headers={**admin, "If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["refreshTokens"] is True
    assert ok.headers["etag"] != etag

    page = await http.get("/v1/clients?pageSize=100&grantType=authorization_code", headers=admin)
    assert page.status_code == 200
    assert any(i["clientId"] == "crud-client" for i in page.json()["items"])
    assert "self" in page.json()["_links"]
    other = await http.get("/v1/clients?pageSize=100&grantType=client_credentials", headers=admin)
    assert "crud-client" not in [i["clientId"] for i in other.json()["items"]]
    # A grant type identity does not offer is refused and named; the document lists the two.
    refused = await http.get("/v1/clients?grantType=implicit", headers=admin)
    assert refused.status_code == 400
    assert [p["name"] for p in refused.json()["invalidParams"]] == ["grantType"]
    document = (await http.get("/v1/openapi.json")).json()
    listing = document["paths"]["/clients"]["get"]["parameters"]
    grant = next(p for p in listing if p["name"] == "grantType")
    choices = [s.get("enum") for s in grant["schema"].get("anyOf", [grant["schema"]])]
    # A nullable enumeration also lists null (servicekit's OpenAPI document).
    assert ["authorization_code", "client_credentials"] in [
        [c for c in choice if c is not None] for choice in choices if choice
    ]

    assert (await http.delete(f"/v1/clients/{data['id']}", headers=admin)).status_code == 204
    assert (await http.get(f"/v1/clients/{data['id']}", headers=admin)).status_code == 404


async def test_replayed_registration_never_shows_or_keeps_the_secret(
    http: httpx.AsyncClient, admin: dict[str, str], database: Any
) -> None:
    body = dict(BASE, clientId="secret-once")
    headers = {**admin, "Idempotency-Key": "create-secret-once"}
    first = await http.post("/v1/clients", json=body, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["clientSecret"]
    assert secret
    assert first.json()["clientSecretWithheld"] is False
    again = await http.post("/v1/clients", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["clientSecret"] is None
    assert again.json()["clientSecretWithheld"] is True
    # The secret exists nowhere but as the client's hash.
    async with database.sessionmaker() as session:
        stored = (await session.execute(select(idempotency_keys.c.response_body))).scalars().all()
    assert stored
    assert not any(secret in (text or "") for text in stored)
    # A client without a secret has nothing withheld.
    keyed = dict(
        BASE,
        clientId="no-secret-once",
        tokenEndpointAuthMethod="none",
        redirectUris=["http://127.0.0.1/cb"],
    )
    headers = {**admin, "Idempotency-Key": "create-no-secret-once"}
    await http.post("/v1/clients", json=keyed, headers=headers)
    replay = await http.post("/v1/clients", json=keyed, headers=headers)
    assert replay.status_code == 201
    assert replay.json()["clientSecretWithheld"] is False


async def test_a_lost_secret_is_replaced_by_a_new_one(
    http: httpx.AsyncClient, admin: dict[str, str], database: Any
) -> None:
    body = dict(BASE, clientId="rotated-secret", grantType="client_credentials",
                redirectUris=[], allowedScopes=["registry:read"])  # fmt: skip
    created = await http.post("/v1/clients", json=body, headers=admin)
    assert created.status_code == 201, created.text
    old = created.json()["clientSecret"]
    path = f"/v1/clients/{created.json()['id']}/secret"
    rotated = await http.post(path, headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["clientSecret"]
    assert new
    assert new != old
    assert rotated.headers["etag"] != created.headers["etag"]
    grant = {"grant_type": "client_credentials"}
    refused = await http.post("/auth/token", data=grant, auth=("rotated-secret", old))
    assert refused.status_code == 401
    token = await http.post("/auth/token", data=grant, auth=("rotated-secret", new))
    assert token.status_code == 200, token.text
    async with database.sessionmaker() as session:
        stored = (await session.execute(select(idempotency_keys.c.response_body))).scalars().all()
    assert not any(new in (text or "") for text in stored)
    # Only client_secret_basic clients have a secret; others are 409, unknown ones 404.
    keyed = dict(BASE, clientId="no-secret-to-rotate", tokenEndpointAuthMethod="none",
                 redirectUris=["http://127.0.0.1/cb"])  # fmt: skip
    public = await http.post("/v1/clients", json=keyed, headers=admin)
    assert (
        await http.post(f"/v1/clients/{public.json()['id']}/secret", headers=admin)
    ).status_code == 409
    unknown = "/v1/clients/00000000-0000-0000-0000-000000000000/secret"
    assert (await http.post(unknown, headers=admin)).status_code == 404
    # Administrators only.
    assert (await http.post(path)).status_code == 401


async def test_concurrent_repeats_of_a_key_make_one_client(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = dict(BASE, clientId="raced-client")
    headers = {**admin, "Idempotency-Key": "create-raced-client"}
    answers = await asyncio.gather(
        *(http.post("/v1/clients", json=body, headers=headers) for _ in range(3))
    )
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert [bool(a.json()["clientSecret"]) for a in answers].count(True) == 1
    other = await http.post("/v1/clients", json=dict(body, name="Other"), headers=headers)
    assert other.status_code == 422


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"allowedScopes": ["openid", "nope"]}, "allowedScopes"),
        ({"allowedScopes": ["openid", "bsn"]}, "bsnLegalBasis"),
        ({"redirectUris": []}, "redirectUris"),
        ({"redirectUris": ["http://evil.example/cb"]}, "redirectUris[0]"),
        ({"redirectUris": ["https://x.example/cb#frag"]}, "redirectUris[0]"),
        ({"tokenEndpointAuthMethod": "private_key_jwt"}, "jwks"),
        (
            {
                "tokenEndpointAuthMethod": "private_key_jwt",
                "jwks": {"keys": [{"kty": "RSA", "d": "x", "n": "x", "e": "AQAB"}]},
            },
            "jwks",
        ),
        ({"grantType": "client_credentials"}, "redirectUris"),
        ({"clientId": "Bad Id"}, "clientId"),
        ({"minimumLoa": "high"}, "minimumLoa"),
        ({"grantType": "implicit"}, "grantType"),
        ({"unknownField": 1}, "unknownField"),
    ],
)
async def test_invalid_registrations(
    http: httpx.AsyncClient, admin: dict[str, str], change: dict[str, Any], param: str
) -> None:
    response = await http.post("/v1/clients", json={**BASE, **change}, headers=admin)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    names = [p["name"] for p in response.json()["invalidParams"]]
    assert any(param in n for n in names), names


async def test_admin_scope_required(http: httpx.AsyncClient, register: Any) -> None:
    assert (await http.get("/v1/clients")).status_code == 401
    rp = await register(grant_type="client_credentials", allowed_scopes=["registry:read"])
    data, _ = rp.auth({"grant_type": "client_credentials"})
    token = (await http.post("/auth/token", data=data)).json()["access_token"]
    response = await http.get("/v1/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 403


@pytest.mark.parametrize(
    "registration",
    [
        pytest.param({}, id="no-organisation"),
        pytest.param(
            {
                "org_id": "00000001001234567000",
                "org_type": "municipality",
                "roles": ["platform-admin"],
            },
            id="role-but-not-an-admin-organisation",
        ),
        pytest.param(
            {"org_id": ADMIN_ORG, "org_type": "operator", "roles": ["registry-editor"]},
            id="admin-organisation-without-the-role",
        ),
    ],
)
async def test_identity_admin_scope_alone_is_not_enough(
    http: httpx.AsyncClient, register: Any, registration: dict[str, Any]
) -> None:
    """A machine client that holds identity:admin but is no platform administrator (not
    acting for an organisation in IDENTITY_ADMIN_ORG_IDS with the platform-admin role) is
    refused on every operation of the registry, before anything is read or changed."""
    headers = await machine_token(http, register, allowed_scopes=["identity:admin"], **registration)
    assert_forbidden(await http.get("/v1/clients", headers=headers))
    body = dict(BASE, clientId="rogue-registration")
    assert_forbidden(await http.post("/v1/clients", json=body, headers=headers))
    some_id = "00000000-0000-4000-8000-000000000000"
    assert_forbidden(await http.get(f"/v1/clients/{some_id}", headers=headers))
    assert_forbidden(
        await http.put(f"/v1/clients/{some_id}", json=body, headers={**headers, "If-Match": '"x"'})
    )
    assert_forbidden(await http.delete(f"/v1/clients/{some_id}", headers=headers))


async def test_admin_organisations_are_read_per_request(
    http: httpx.AsyncClient, app: Any, database: Any, admin: dict[str, str]
) -> None:
    """An organisation taken out of IDENTITY_ADMIN_ORG_IDS loses the registry at once, also
    with a token issued while it was listed (same keys and database, other setting)."""
    from idkit import ISSUER, make_settings

    from identity.main import create_app

    assert (await http.get("/v1/clients", headers=admin)).status_code == 200
    other = create_app(
        make_settings(database.url, admin_org_ids=["00000001001234567000"]), database=database
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other), base_url=ISSUER
    ) as client:
        assert_forbidden(await client.get("/v1/clients", headers=admin))


async def test_platform_admin_user_can_manage_clients(browser: Browser, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "identity:admin"])
    login = await browser.login(rp, "eherkenning", "eh-operator", scope="openid identity:admin")
    token = (await browser.token(rp, login)).json()["access_token"]
    response = await browser.http.get("/v1/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_registered_client_can_log_in(
    http: httpx.AsyncClient, admin: dict[str, str], browser: Browser
) -> None:
    body = dict(BASE, clientId="api-registered", tokenEndpointAuthMethod="client_secret_basic")
    created = (await http.post("/v1/clients", json=body, headers=admin)).json()
    rp = RP(
        client_id="api-registered",
        secret=created["clientSecret"],
        redirect_uri=BASE["redirectUris"][0],
    )
    login = await browser.login(rp)
    assert (await browser.token(rp, login)).status_code == 200


def test_openapi_document(app: Any) -> None:
    doc = app.openapi()
    assert set(doc["paths"]) == {
        "/clients",
        "/clients/{client_id}",
        "/clients/{client_id}/secret",
        "/me/disclosures",
        "/initial-access-tokens",
        "/initial-access-tokens/{token_id}",
    }
    for item in doc["paths"].values():
        for op in item.values():
            assert op["operationId"]
            assert op["summary"]
            assert op["tags"]
    json.dumps(doc)


async def test_migration_removes_secrets_kept_before(tmp_path: Path) -> None:
    async with fresh_database_url("identity_0007", tmp_path) as url:
        await asyncio.to_thread(upgrade, "identity.migrations", url, "0006")
        answer = {"id": "x", "clientId": "old", "clientSecret": "kept-in-clear"}
        database = Database(url)
        try:
            async with database.sessionmaker() as session, session.begin():
                await session.execute(
                    insert(idempotency_keys).values(
                        owner="admin|x",
                        key="k",
                        request_hash="0" * 64,
                        state="done",
                        status_code=201,
                        response_body=json.dumps(answer),
                        created_at=utcnow(),
                    )
                )
            await asyncio.to_thread(upgrade, "identity.migrations", url)
            async with database.sessionmaker() as session:
                text = (await session.execute(select(idempotency_keys.c.response_body))).scalar()
        finally:
            await database.dispose()
    assert json.loads(text or "") == {
        "id": "x",
        "clientId": "old",
        "clientSecret": None,
        "clientSecretWithheld": True,
    }
