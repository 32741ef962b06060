"""Portal test fixtures: the portal app on a migrated database (SQLite, or PostgreSQL with
TEST_DATABASE_URL), its HTTP client wired to a fake gateway in process, and a browser-like
client that keeps cookies."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from portal.config import Settings
from portal.db import load_models, metadata
from portal.main import create_app
from servicekit.db import Database
from servicekit.testing import TestIssuer, clear_tables, fresh_database_url, migrated_database

sys.path.insert(0, str(Path(__file__).parent))

from fakes import GATEWAY, LOW, FakeGateway, Forward

PORTAL = "https://portal.test"


@dataclass
class Portal:
    app: Any
    fake: FakeGateway
    client: httpx.AsyncClient
    database: Database

    async def login(self, acr: str = LOW, next_path: str = "/", **claims: Any) -> httpx.Response:
        """The whole log-in as a browser does it: /login, identity (faked), the callback."""
        start = await self.client.get("/login", params={"next": next_path})
        assert start.status_code == 303, start.text
        query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
        person = {"sub": "person-1", "name": "Anouk Bakker", **claims}
        code = self.fake.issue_code(query["nonce"], query["code_challenge"], acr, **person)
        return await self.client.get(
            "/login/callback", params={"state": query["state"], "code": code}
        )

    def authorize_query(self, response: httpx.Response) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.fixture(scope="session")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The whole platform started like `make run` (free ports), once for the browser tests
    of this folder; fresh PostgreSQL databases when TEST_DATABASE_URL is set."""
    from contextlib import AsyncExitStack

    from browserkit import start_platform, stop_platform

    from servicekit.testing import test_database_base_url

    tmp = tmp_path_factory.mktemp("portal-e2e")
    async with AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        if test_database_base_url():
            for part in ("identity", "registry", "procurement", "portal"):
                urls[part] = await stack.enter_async_context(
                    fresh_database_url(f"pe2e_{part}", tmp)
                )
        running, problem = start_platform(tmp, urls)
        try:
            if problem is not None:
                pytest.skip(f"the platform could not start: {problem}\n{running.log_tail()}")
            yield running
        finally:
            stop_platform(running)


@pytest.fixture(scope="session")
def portal_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "portal-1", "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="session")
async def portal_database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    load_models()
    async with fresh_database_url("portal", tmp_path_factory.mktemp("portal")) as url:
        database = await migrated_database("portal.migrations", url)
        try:
            yield database
        finally:
            await database.dispose()


def portal_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "log_json": False,
        "log_level": "WARNING",
        "public_url": PORTAL,
        "gateway_url": GATEWAY,
        "auth_issuer": GATEWAY,
        "otel_sdk_disabled": True,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def portal(portal_database: Database, portal_key: RSAKey) -> AsyncIterator[Portal]:
    await clear_tables(portal_database, metadata)
    fake = FakeGateway(portal_key)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()), base_url=GATEWAY)
    app = create_app(portal_settings(), database=portal_database, http=http, key=portal_key)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PORTAL, follow_redirects=False
    )
    try:
        yield Portal(app, fake, client, portal_database)
    finally:
        await client.aclose()
        await http.aclose()


# --- the real registry behind the fake gateway -----------------------------------------

WRITERS = {"registry-editor", "platform-admin"}


@pytest.fixture(scope="session")
async def registry_database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    from registry.db import load_models as load_registry_models

    load_registry_models()
    async with fresh_database_url("portal_registry", tmp_path_factory.mktemp("preg")) as url:
        database = await migrated_database("registry.migrations", url)
        try:
            yield database
        finally:
            await database.dispose()


@pytest.fixture(scope="session")
def registry_service(registry_database: Database, issuer: TestIssuer) -> Any:
    from registry.config import Settings as RegistrySettings
    from registry.main import create_app as create_registry

    settings = RegistrySettings(
        environment="test",
        database_url=registry_database.url,
        otel_sdk_disabled=True,
        log_json=False,
    )
    return create_registry(settings, database=registry_database, token_verifier=issuer.verifier())


@pytest.fixture
async def registry(
    portal: Portal, registry_service: Any, registry_database: Database, issuer: TestIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    """The portal's fake gateway passes /api/registry/v1 on to the real registry app (on
    an empty database), with a token that carries the logged-in person's organisation and
    roles as identity's would; the client returned talks to the registry directly."""
    from registry.db import metadata as registry_metadata

    await clear_tables(registry_database, registry_metadata)

    def bearer(claims: dict[str, Any] | None) -> str:
        if claims is None:  # the portal's own read token
            return "Bearer " + issuer.token(sub="samen-portal-reader", scopes=["registry:read"])
        roles = list(claims.get("roles", []))
        scopes = ["registry:read"] + (["registry:write"] if WRITERS & set(roles) else [])
        return "Bearer " + issuer.token(
            sub=str(claims.get("sub", "person")),
            scopes=scopes,
            org_id=claims.get("org_id"),
            org_type=claims.get("org_type"),
            roles=roles,
        )

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=registry_service), base_url="http://registry.test"
    )
    portal.fake.forwards.append(Forward("/api/registry/v1", "/v1", client, bearer))
    try:
        yield client
    finally:
        await client.aclose()
