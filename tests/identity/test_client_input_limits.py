"""Client registrations are refused (400 naming the member, nothing stored) for URIs with
wildcards, spaces, control characters, more than 2,000 characters or repeats; roles over
100 characters; and keys other than a small set of public RSA and P-256 EC keys."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from idkit import RP, RP_CALLBACK, client_key
from joserfc.jwk import ECKey, KeySet, RSAKey
from test_clients_api import BASE

RSA_PUBLIC = dict(client_key(0).as_dict(private=False))
MACHINE = {
    "clientId": "limits-machine",
    "name": "Limits",
    "grantType": "client_credentials",
    "tokenEndpointAuthMethod": "private_key_jwt",
    "jwks": {"keys": [RSA_PUBLIC]},
    "allowedScopes": ["registry:read"],
    "orgId": "00000001001234567000",
    "orgType": "municipality",
    "roles": ["registry-editor"],
}


def oct_key(size: int) -> dict[str, Any]:
    return {"kty": "oct", "k": "A" * size}


def small_rsa_key() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns about the size this test wants
        return dict(RSAKey.generate_key(1024, private=True).as_dict(private=False))


async def refused(
    http: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> list[str]:
    response = await http.post("/v1/clients", json=body, headers=admin)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = await http.get("/v1/clients?pageSize=100", headers=admin)
    assert body["clientId"] not in [c["clientId"] for c in listed.json()["items"]]
    return [p["name"] for p in response.json()["invalidParams"]]


@pytest.mark.parametrize(
    ("uris", "name"),
    [
        (["https://*.x.nl/cb"], "redirectUris[0]"),
        (["https://x.nl/cb?to=*"], "redirectUris[0]"),
        (["https://x.nl/c b"], "redirectUris[0]"),
        (["https://x.nl/c\tb"], "redirectUris[0]"),
        (["https://x.nl/c\x01b"], "redirectUris[0]"),
        (["https://x.nl/c\x7fb"], "redirectUris[0]"),
        (["https://x.nl/c\u00a0b"], "redirectUris[0]"),
        (["https://x.nl/" + "a" * 100_000], "redirectUris[0]"),
        (["https://x.nl/" + "a" * 1988], "redirectUris[0]"),
        ([RP_CALLBACK, "https://x.nl/cb", RP_CALLBACK], "redirectUris[2]"),
    ],
)
async def test_redirect_uris_are_exact_clean_and_short(
    http: httpx.AsyncClient, admin: dict[str, str], uris: list[str], name: str
) -> None:
    body = {**BASE, "clientId": "limits-redirects", "redirectUris": uris}
    assert await refused(http, admin, body) == [name]


async def test_the_longest_redirect_uri_and_distinct_lists_pass(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    longest = "https://x.nl/" + "a" * 1987
    assert len(longest) == 2000
    body = {
        **BASE,
        "clientId": "limits-redirects-ok",
        "redirectUris": [longest, RP_CALLBACK],
        "postLogoutRedirectUris": ["https://x.nl/bye", "https://x.nl/bye"],
    }
    assert await refused(http, admin, body) == ["postLogoutRedirectUris[1]"]
    body["postLogoutRedirectUris"] = ["https://x.nl/bye"]
    created = await http.post("/v1/clients", json=body, headers=admin)
    assert created.status_code == 201, created.text


async def test_request_uris_are_listed_once(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    uri = "https://rp.example.nl/request.jwt"
    body = {
        **BASE,
        "clientId": "limits-request-uris",
        "tokenEndpointAuthMethod": "private_key_jwt",
        "jwks": {"keys": [RSA_PUBLIC]},
        "requestUris": [uri, uri],
    }
    assert await refused(http, admin, body) == ["requestUris[1]"]


@pytest.mark.parametrize("role", ["r" * 101, "r" * 10_000, "platform admin", "", "Admin\n"])
async def test_roles_are_short_names(
    http: httpx.AsyncClient, admin: dict[str, str], role: str
) -> None:
    names = await refused(http, admin, {**MACHINE, "roles": ["registry-editor", role]})
    assert names == ["roles[1]"], names


@pytest.mark.parametrize(
    "jwks",
    [
        {"keys": [oct_key(500_000)]},
        {"keys": [oct_key(43)]},
        {"keys": [RSA_PUBLIC, oct_key(43)]},
        {"keys": [small_rsa_key()]},
        {"keys": [dict(ECKey.generate_key("P-384").as_dict(private=False))]},
        {"keys": [dict(client_key(0).as_dict(private=True))]},
        {"keys": [{**RSA_PUBLIC, "n": "A" * 40_000}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}]},
        {"keys": [RSA_PUBLIC] * 11},
        {"keys": []},
        {"keys": ["not a key"]},
    ],
)
async def test_jwks_holds_a_few_public_rsa_or_ec_keys(
    http: httpx.AsyncClient, admin: dict[str, str], jwks: dict[str, Any]
) -> None:
    assert await refused(http, admin, {**MACHINE, "jwks": jwks}) == ["jwks"]


async def test_public_rsa_and_p256_keys_pass(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    ec = dict(ECKey.generate_key("P-256").as_dict(private=False))
    body = {**MACHINE, "jwks": {"keys": [RSA_PUBLIC, ec]}}
    created = await http.post("/v1/clients", json=body, headers=admin)
    assert created.status_code == 201, created.text


async def test_dynamic_registration_applies_the_same_limits(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    issued = await http.post("/v1/initial-access-tokens", json={"expiresIn": 600}, headers=admin)
    initial = {"Authorization": f"Bearer {issued.json()['token']}"}
    metadata = {
        "client_name": "Limits",
        "redirect_uris": [RP_CALLBACK],
        "jwks": dict(KeySet([client_key(0)]).as_dict(private=False)),
        "scope": "openid",
    }
    spaced = {**metadata, "redirect_uris": ["https://x.nl/c b"]}
    response = await http.post("/auth/register", json=spaced, headers=initial)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    symmetric = {**metadata, "jwks": {"keys": [oct_key(43)]}}
    response = await http.post("/auth/register", json=symmetric, headers=initial)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert (await http.post("/auth/register", json=metadata, headers=initial)).status_code == 201


async def test_a_huge_jwks_uri_document_is_not_read_to_its_end(
    http: httpx.AsyncClient, register: Any, app: Any
) -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        yield b'{"keys": ['
        for _ in range(1000):
            sent.append(16_384)
            yield b" " * 16_384
        yield b"]}"

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    authenticator = app.state.identity.client_auth
    original = authenticator.http
    authenticator.http = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    try:
        rp: RP = await register(
            grant_type="client_credentials", jwks_uri="https://big.example.nl/jwks.json"
        )
        rp.key = client_key(0)
        data, _ = rp.auth({"grant_type": "client_credentials"})
        response = await http.post("/auth/token", data=data)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert sum(sent) <= 100_000
    finally:
        await authenticator.http.aclose()
        authenticator.http = original
