"""The generic upstream-OIDC connector (authlib) against a simulator over HTTP, and the
production safety checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from idkit import ISSUER, LOA_SUBSTANTIAL, Browser, decode_unverified, make_settings

from identity.main import create_app
from identity.simulators.idp import BROKER_CLIENT_ID


async def test_generic_oidc_connector_against_the_simulator(
    app: Any, database: Any, register: Any
) -> None:
    upstream = f"{ISSUER}/auth/simulators/digid"
    secret = app.state.simulators.broker_secret()
    settings = make_settings(
        database.url,
        upstreams={
            "digid": {
                "issuer": upstream,
                "authorization_endpoint": f"{upstream}/authorize",
                "token_endpoint": f"{upstream}/token",
                "jwks_uri": f"{upstream}/jwks",
                "client_id": BROKER_CLIENT_ID,
                "client_secret": secret,
            }
        },
    )
    # The broker under test reaches the "production" upstream over HTTP (an ASGI transport
    # into the app that hosts the simulator).
    broker = create_app(
        settings, database=database, upstream_transport=httpx.ASGITransport(app=app)
    )
    assert type(broker.state.provider.connectors["digid"]).__name__ == "OidcConnector"
    rp = await register()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=broker), base_url=ISSUER
    ) as http:
        browser = Browser(http)
        login = await browser.login(rp, "digid", "digid-jan")
        assert "code" in login.params, login.location
        body = (await browser.token(rp, login)).json()
        assert decode_unverified(body["id_token"])["acr"] == LOA_SUBSTANTIAL


async def test_upstream_failure_is_access_denied(app: Any, database: Any, register: Any) -> None:
    upstream = f"{ISSUER}/auth/simulators/digid"
    settings = make_settings(
        database.url,
        upstreams={
            "digid": {
                "issuer": upstream,
                "authorization_endpoint": f"{upstream}/authorize",
                "token_endpoint": f"{upstream}/token",
                "jwks_uri": f"{upstream}/jwks",
                "client_id": BROKER_CLIENT_ID,
                "client_secret": "wrong-secret",
            }
        },
    )
    broker = create_app(
        settings, database=database, upstream_transport=httpx.ASGITransport(app=app)
    )
    rp = await register()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=broker), base_url=ISSUER
    ) as http:
        browser = Browser(http)
        response, params, _ = await browser.start(rp)
        chosen = await browser.choose(response.headers["location"], "digid")
        back = await browser.simulator(
            chosen.headers["location"],
            "digid-jan",
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
        )
        from idkit import path_of, query_of

        final = await http.get(path_of(back.headers["location"]))
        result = query_of(final.headers["location"])
        assert result["error"] == "access_denied"
        assert result["state"] == params["state"]


def test_production_refuses_simulators_and_dev_secrets() -> None:
    with pytest.raises(RuntimeError, match="SIMULATORS"):
        create_app(make_settings("sqlite+aiosqlite://", environment="production"))
    strong = {
        "key_encryption_key": "k" * 40,
        "secret": "s" * 40,
        "allow_client_secret_basic": False,
    }
    with pytest.raises(RuntimeError, match="KEY_ENCRYPTION_KEY"):
        create_app(
            make_settings(
                "sqlite+aiosqlite://",
                environment="production",
                allow_simulators_in_production=True,
                allow_client_secret_basic=False,
            )
        )
    with pytest.raises(RuntimeError, match="development only"):
        create_app(
            make_settings(
                "sqlite+aiosqlite://",
                environment="production",
                simulators_enabled=False,
                **{**strong, "allow_client_secret_basic": True},
            )
        )
    ok = create_app(
        make_settings(
            "sqlite+aiosqlite://", environment="production", simulators_enabled=False, **strong
        )
    )
    assert ok.state.simulators is None
    assert ok.state.provider.connectors == {}
    explicit = create_app(
        make_settings(
            "sqlite+aiosqlite://",
            environment="production",
            allow_simulators_in_production=True,
            **strong,
        )
    )
    assert set(explicit.state.provider.connectors) == {"digid", "eherkenning", "eidas", "yivi"}
    assert explicit.state.provider.settings.cookie_secure is True
