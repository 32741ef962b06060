"""Fixtures for the identity tests: a migrated database, the app behind an ASGI
transport at the issuer's URL, relying parties, and a browser-like login helper."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import KeySet

sys.path.insert(0, os.path.dirname(__file__))

from idkit import (
    ADMIN_ORG,
    ISSUER,
    LOA_LOW,
    RP,
    RP_CALLBACK,
    Browser,
    client_key,
    machine_token,
    make_settings,
)

from identity.clients.schemas import ClientIn
from identity.clients.service import create_client
from identity.main import create_app
from identity.seed import seed
from servicekit.actor import Actor
from servicekit.db import Database
from servicekit.testing import fresh_database_url, migrated_database, release_idle_connections


@pytest.fixture(scope="session")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    async with fresh_database_url("identity", tmp_path_factory.mktemp("identity")) as url:
        db = await migrated_database("identity.migrations", url)
        yield db
        await db.dispose()


@pytest.fixture(scope="session")
async def app(database: Database) -> Any:
    application = create_app(make_settings(database.url), database=database)
    await application.state.identity.keys.ensure()
    return application


@pytest.fixture
async def http(app: Any, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client (keeps cookies) talking to the app at the issuer URL."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client:
        yield client
    await release_idle_connections(database)


@pytest.fixture
async def admin(http: httpx.AsyncClient, register: Any) -> dict[str, str]:
    """A machine client registered like the seeded samen-admin: identity:admin, for an
    administrator organisation, with the platform-admin role."""
    return await machine_token(
        http,
        register,
        allowed_scopes=["identity:admin"],
        org_id=ADMIN_ORG,
        org_type="operator",
        roles=["platform-admin"],
    )


@pytest.fixture
def browser(http: httpx.AsyncClient) -> Browser:
    return Browser(http)


@pytest.fixture
def register(app: Any, database: Database) -> Any:
    """Register a relying party (private_key_jwt unless told otherwise)."""

    async def _register(**kw: Any) -> RP:
        client_id = kw.pop("client_id", f"rp-{uuid.uuid4().hex[:10]}")
        method = kw.get("token_endpoint_auth_method", "private_key_jwt")
        key = None
        slot = kw.pop("key_slot", 0)
        if method == "private_key_jwt" and "jwks" not in kw and "jwks_uri" not in kw:
            key = client_key(slot)
            kw["jwks"] = dict(KeySet([key]).as_dict(private=False))
        defaults: dict[str, Any] = {
            "name": f"Test RP {client_id}",
            "grant_type": "authorization_code",
            "redirect_uris": [RP_CALLBACK],
            "post_logout_redirect_uris": ["https://rp.example.nl/logged-out"],
            "allowed_scopes": ["openid", "profile"],
            "minimum_loa": LOA_LOW,
        }
        if kw.get("grant_type") == "client_credentials":
            defaults.update(
                redirect_uris=[], post_logout_redirect_uris=[], allowed_scopes=["registry:read"]
            )
        defaults.update(kw)
        data = ClientIn(client_id=client_id, **defaults)
        async with database.sessionmaker() as session:
            _row, secret = await create_client(session, data, Actor("test"))
        app.state.identity.clients.invalidate()
        return RP(client_id=client_id, key=key, secret=secret)

    return _register


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("identity-live")
    async with fresh_database_url("identity_live", tmp) as url:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "IDENTITY_DATABASE_URL": url,
            "IDENTITY_ISSUER": base,
            "IDENTITY_ENVIRONMENT": "development",
            "IDENTITY_LOG_LEVEL": "DEBUG",
            "OTEL_SDK_DISABLED": "true",
            "PYTHONWARNINGS": "ignore",
        }
        py = sys.executable
        # Migrate and seed in-process (cheaper than two more interpreters).
        database = await migrated_database("identity.migrations", url)
        await seed(make_settings(url, issuer=base), database)
        await database.dispose()
        log = Path(tmp) / "identity.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [py, "-m", "identity", "serve", "--port", str(port)],
                env=env,
                cwd=tmp,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                async with httpx.AsyncClient(base_url=base) as client:
                    for _ in range(300):
                        try:
                            if (await client.get("/health/ready")).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.1)
                    else:
                        pytest.fail("identity did not start: " + log.read_text()[-2000:])
                yield {"base": base, "log": log}
            finally:
                proc.terminate()
                proc.wait(timeout=10)
