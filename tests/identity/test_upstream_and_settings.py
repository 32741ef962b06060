"""The generic upstream-OIDC connector (authlib) against a simulator over HTTP, and the
production safety checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from idkit import ISSUER, LOA_SUBSTANTIAL, Browser, decode_unverified, make_settings, path_of

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
    assert type(broker.state.identity.connectors["digid"]).__name__ == "OidcConnector"
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
    assert ok.state.identity.connectors == {}
    explicit = create_app(
        make_settings(
            "sqlite+aiosqlite://",
            environment="production",
            allow_simulators_in_production=True,
            **strong,
        )
    )
    assert set(explicit.state.identity.connectors) == {"digid", "eherkenning", "eidas", "yivi"}
    assert explicit.state.identity.settings.cookie_secure is True


async def test_production_cookies_are_secure(tmp_path: Any) -> None:
    """Production-like settings (own database: its keys are sealed with another key)."""
    from idkit import RP, RP_CALLBACK, client_key
    from joserfc.jwk import KeySet

    from identity.clients.schemas import ClientIn
    from identity.clients.service import create_client
    from servicekit.actor import Actor
    from servicekit.testing import fresh_database_url, migrated_database

    issuer = "https://samen.example.nl"
    async with fresh_database_url("identity_prod", tmp_path) as url:
        database = await migrated_database("identity.migrations", url)
        settings = make_settings(
            url,
            environment="production",
            issuer=issuer,
            allow_simulators_in_production=True,
            key_encryption_key="k" * 40,
            secret="s" * 40,
            allow_client_secret_basic=False,
        )
        prod = create_app(settings, database=database)
        await prod.state.identity.keys.ensure()
        key = client_key(0)
        async with database.sessionmaker() as session:
            await create_client(
                session,
                ClientIn(
                    client_id="prod-rp",
                    name="Prod RP",
                    grant_type="authorization_code",
                    jwks=dict(KeySet([key]).as_dict(private=False)),
                    redirect_uris=[RP_CALLBACK],
                    allowed_scopes=["openid"],
                    minimum_loa="http://eidas.europa.eu/LoA/substantial",
                ),
                actor=Actor("test"),
            )
        rp = RP(client_id="prod-rp", key=key)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=prod), base_url=issuer
        ) as http:
            browser = Browser(http)
            response, _, _ = await browser.start(rp, scope="openid")
            page = await http.get(path_of(response.headers["location"]))
            assert "secure" in page.headers["set-cookie"].lower()
            login = await browser.login(rp, scope="openid")
            assert "code" in login.params, login.location
            data, _ = rp.auth(
                {
                    "grant_type": "authorization_code",
                    "code": login.params["code"],
                    "redirect_uri": rp.redirect_uri,
                    "code_verifier": login.verifier,
                },
                aud=f"{issuer}/auth/token",
            )
            token = await http.post("/auth/token", data=data)
            assert token.status_code == 200, token.text
            assert decode_unverified(token.json()["id_token"])["iss"] == issuer
        await database.dispose()


async def test_refuses_to_start_with_the_wrong_key_encryption_key(database: Any, app: Any) -> None:
    wrong = create_app(
        make_settings(database.url, key_encryption_key="another-key"), database=database
    )
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        async with wrong.router.lifespan_context(wrong):
            pass
