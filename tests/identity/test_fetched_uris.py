"""URIs the OP fetches itself — a client's jwksUri and requestUris — are https to a named
public host: refused at registration (/v1/clients, /auth/register) and never fetched when
a stored registration names another one (SSRF)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from idkit import RP, RP_CALLBACK, Browser, client_key
from sqlalchemy import update
from sqlmodel import col
from test_clients_api import BASE

from identity.clients.models import Client
from servicekit.db import Database

INTERNAL = "http://127.0.0.1:8001/internal/admin?x=1"
REFUSED = [
    "http://",
    "http://169.254.169.254/latest/meta-data",
    INTERNAL,
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.1/jwks.json",
    "https://[::1]/jwks.json",
    "https://127.1/jwks.json",
    "https://2130706433/jwks.json",
    "https://localhost/jwks.json",
    "https://metadata/jwks.json",
    "https://keys.internal/jwks.json",
    "https://user@keys.example.nl/jwks.json",
    "https://keys.example.nl/jwks.json#frag",
]


@pytest.fixture
async def fetches(app: Any) -> AsyncIterator[list[str]]:
    """Every URL the OP fetches for clients (answered with 404)."""
    seen: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(404)

    authenticator = app.state.identity.client_auth
    original = authenticator.http
    authenticator.http = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    try:
        yield seen
    finally:
        await authenticator.http.aclose()
        authenticator.http = original


def pkjwt(**extra: Any) -> dict[str, Any]:
    return {
        **BASE,
        "clientId": "keys-by-uri",
        "tokenEndpointAuthMethod": "private_key_jwt",
        "jwksUri": "https://keys.example.nl/jwks.json",
        **extra,
    }


@pytest.mark.parametrize("uri", REFUSED)
async def test_v1_clients_refuses_a_jwks_uri_to_a_private_place(
    http: httpx.AsyncClient, admin: dict[str, str], uri: str
) -> None:
    response = await http.post("/v1/clients", json=pkjwt(jwksUri=uri), headers=admin)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [p["name"] for p in response.json()["invalidParams"]] == ["jwksUri"]
    listed = await http.get("/v1/clients?pageSize=100", headers=admin)
    assert "keys-by-uri" not in [c["clientId"] for c in listed.json()["items"]]


async def test_v1_clients_accepts_https_to_a_public_name_and_refuses_it_on_update(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await http.post("/v1/clients", json=pkjwt(), headers=admin)
    assert created.status_code == 201, created.text
    path = f"/v1/clients/{created.json()['id']}"
    headers = {**admin, "If-Match": created.headers["etag"]}
    changed = await http.put(path, json=pkjwt(jwksUri=INTERNAL), headers=headers)
    assert changed.status_code == 400
    assert [p["name"] for p in changed.json()["invalidParams"]] == ["jwksUri"]
    assert (await http.get(path, headers=admin)).json()["jwksUri"] == pkjwt()["jwksUri"]


@pytest.mark.parametrize(
    "uri", ["https://169.254.169.254/request.jwt", "http://127.0.0.1:8001/request.jwt"]
)
async def test_v1_clients_refuses_request_uris_to_a_private_place(
    http: httpx.AsyncClient, admin: dict[str, str], uri: str
) -> None:
    response = await http.post("/v1/clients", json=pkjwt(requestUris=[uri]), headers=admin)
    assert response.status_code == 400, response.text
    assert [p["name"] for p in response.json()["invalidParams"]] == ["requestUris[0]"]


async def test_dynamic_registration_refuses_a_private_jwks_uri(
    http: httpx.AsyncClient, admin: dict[str, str], fetches: list[str]
) -> None:
    issued = await http.post("/v1/initial-access-tokens", json={"expiresIn": 600}, headers=admin)
    initial = {"Authorization": f"Bearer {issued.json()['token']}"}
    metadata = {
        "client_name": "SSRF",
        "redirect_uris": [RP_CALLBACK],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": INTERNAL,
        "scope": "openid",
    }
    refused = await http.post("/auth/register", json=metadata, headers=initial)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_client_metadata"
    assert "jwksUri" in refused.json()["error_description"]
    # Nothing changed: the initial access token still registers a proper client.
    fine = {**metadata, "jwks_uri": "https://keys.example.nl/jwks.json"}
    assert (await http.post("/auth/register", json=fine, headers=initial)).status_code == 201
    assert fetches == []


async def test_a_stored_private_jwks_uri_is_never_fetched(
    http: httpx.AsyncClient, register: Any, database: Database, app: Any, fetches: list[str]
) -> None:
    """A registration stored before the rule (or written around it) authenticates nobody
    and makes the OP fetch nothing."""
    rp: RP = await register(
        grant_type="client_credentials", jwks_uri="https://keys.example.nl/jwks.json"
    )
    rp.key = client_key(3)
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Client).where(col(Client.client_id) == rp.client_id).values(jwks_uri=INTERNAL)
        )
    app.state.identity.clients.invalidate()
    data, _ = rp.auth({"grant_type": "client_credentials"})
    response = await http.post("/auth/token", data=data)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert fetches == []


async def test_a_stored_private_request_uri_is_never_fetched(
    browser: Browser, register: Any, database: Database, app: Any, fetches: list[str]
) -> None:
    rp: RP = await register()
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Client)
            .where(col(Client.client_id) == rp.client_id)
            .values(request_uris=[INTERNAL])
        )
    app.state.identity.clients.invalidate()
    outer = {"client_id": rp.client_id, "request_uri": INTERNAL, "redirect_uri": RP_CALLBACK}
    refused = await browser.http.get("/auth/authorize?" + urlencode(outer))
    assert "invalid_request_uri" in refused.headers.get("location", refused.text)
    assert fetches == []


async def test_the_op_fetches_from_public_addresses_only(app: Any, local_http_server: int) -> None:
    """Names are resolved where the connection is opened: whatever a registered name
    resolves to, the OP never connects to its own network (here a server on loopback)."""
    authenticator = app.state.identity.client_auth
    with pytest.raises(httpx.ConnectError, match="public internet address"):
        await authenticator.fetch(f"http://127.0.0.1:{local_http_server}/jwks.json", 1000)


async def test_a_request_uri_answering_more_than_64_kib_is_refused_unread(
    browser: Browser, register: Any, app: Any
) -> None:
    hosted = "https://rp.example.nl/requests/huge.jwt"
    rp: RP = await register(request_uris=[hosted])
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 64 MiB if read to the end
            sent.append(1)
            yield b"x" * 65_536

    authenticator = app.state.identity.client_auth
    original = authenticator.http
    authenticator.http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    )
    try:
        outer = {"client_id": rp.client_id, "request_uri": hosted, "redirect_uri": RP_CALLBACK}
        refused = await browser.http.get("/auth/authorize?" + urlencode(outer))
    finally:
        await authenticator.http.aclose()
        authenticator.http = original
    assert "invalid_request_uri" in refused.headers.get("location", refused.text)
    assert len(sent) <= 2
