"""Redirect URIs at registration (/v1/clients and register-client) and at authorization:
https, or http to a loopback IP literal with any port (RFC 8252 §7.3, §8.3); never
localhost; https only in production for every client but native (public) apps."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

import httpx
import pytest
from idkit import Browser, make_settings

from identity.__main__ import _register_client
from servicekit.db import Database


def registration(redirect: str, **extra: Any) -> dict[str, Any]:
    return {
        "clientId": f"redirect-{uuid.uuid4().hex[:8]}",
        "name": "Redirect rules",
        "grantType": "authorization_code",
        "tokenEndpointAuthMethod": "client_secret_basic",
        "redirectUris": [redirect],
        "allowedScopes": ["openid"],
        **extra,
    }


@pytest.mark.parametrize(
    "redirect",
    [
        "http://localhost:8080/callback",
        "https://localhost/callback",
        "http://rp.example.nl/callback",
        "https://rp.example.nl/callback#fragment",
    ],
)
async def test_refused_at_v1_clients(
    http: httpx.AsyncClient, admin: dict[str, str], redirect: str
) -> None:
    r = await http.post("/v1/clients", json=registration(redirect), headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["invalidParams"][0]["name"] == "redirectUris[0]"
    logout = registration("https://rp.example.nl/cb", postLogoutRedirectUris=[redirect])
    r = await http.post("/v1/clients", json=logout, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["invalidParams"][0]["name"] == "postLogoutRedirectUris[0]"


async def test_loopback_literals_are_accepted_and_match_any_port(
    http: httpx.AsyncClient, admin: dict[str, str], register: Any
) -> None:
    for redirect in ("http://127.0.0.1/callback", "http://[::1]:8080/callback"):
        r = await http.post("/v1/clients", json=registration(redirect), headers=admin)
        assert r.status_code == 201, r.text
    rp = await register(redirect_uris=["http://127.0.0.1/callback"])
    browser = Browser(http)
    for port in (51234, 8080):
        rp.redirect_uri = f"http://127.0.0.1:{port}/callback"
        response, _params, _verifier = await browser.start(rp)
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith("/auth/login"), response.headers
    rp.redirect_uri = "http://localhost:51234/callback"
    response, _params, _verifier = await browser.start(rp)
    assert response.status_code == 400  # an error page, never a redirect
    assert "location" not in response.headers


async def test_register_client_applies_the_same_rules_and_production_wants_https(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run(body: dict[str, Any], environment: str = "test") -> None:
        args = argparse.Namespace(json=json.dumps(body), file=None)
        await _register_client(make_settings(database.url, environment=environment), args)

    with pytest.raises(SystemExit) as refused:
        await run(registration("http://localhost:8080/callback"))
    assert "localhost" in str(refused.value)
    with pytest.raises(SystemExit) as refused:
        await run(registration("http://127.0.0.1:8080/callback"), "production")
    assert "https" in str(refused.value)
    native = registration("http://127.0.0.1/callback", tokenEndpointAuthMethod="none")
    await run(native, "production")
    assert json.loads(capsys.readouterr().out)["action"] == "created"


def test_dynamic_registration_applies_the_same_rules() -> None:
    """RFC 7591 registration: the same check, invalid_redirect_uri when it fails."""
    from identity.oauth.errors import OAuthError
    from identity.registration.schemas import ClientMetadata
    from identity.registration.service import to_registration

    def metadata(uri: str, method: str = "client_secret_basic") -> ClientMetadata:
        return ClientMetadata(
            client_name="Dynamic",
            redirect_uris=[uri],
            token_endpoint_auth_method=method,
            scope="openid",
        )

    for uri, production in (("http://localhost:9000/cb", False), ("http://127.0.0.1/cb", True)):
        with pytest.raises(OAuthError) as refused:
            to_registration(metadata(uri), "dyn-test", production)
        assert refused.value.error == "invalid_redirect_uri"
    assert to_registration(metadata("http://127.0.0.1/cb", "none"), "dyn-test", True)
