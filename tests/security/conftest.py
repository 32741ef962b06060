"""The three services in-process (ASGI, lifespan run) on freshly migrated databases,
verifying tokens of the session's TestIssuer; procurement reads a fake registry."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

sys.path.insert(0, os.path.dirname(__file__))

from seckit import OPERATOR_OIN, fake_registry

from servicekit.testing import TestIssuer, fresh_database_url, migrated_database


@pytest.fixture(scope="session")
async def apps(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
) -> AsyncIterator[dict[str, Any]]:
    from identity.config import Settings as IdentitySettings
    from identity.main import create_app as identity_app
    from procurement.config import Settings as ProcurementSettings
    from procurement.main import create_app as procurement_app
    from procurement.main import database_for
    from registry.config import Settings as RegistrySettings
    from registry.main import create_app as registry_app

    tmp = tmp_path_factory.mktemp("security")
    async with (
        fresh_database_url("sec_registry", tmp) as registry_url,
        fresh_database_url("sec_procurement", tmp) as procurement_url,
        fresh_database_url("sec_identity", tmp) as identity_url,
    ):
        dbs = {
            "registry": await migrated_database("registry.migrations", registry_url),
            "identity": await migrated_database("identity.migrations", identity_url),
        }
        await (await migrated_database("procurement.migrations", procurement_url)).dispose()
        dbs["procurement"] = database_for(procurement_url)
        common: dict[str, Any] = {"environment": "test", "otel_sdk_disabled": True,
                                  "log_json": False}  # fmt: skip
        built = {
            "registry": registry_app(
                RegistrySettings(database_url=registry_url, **common),
                database=dbs["registry"],
                token_verifier=issuer.verifier(),
            ),
            "procurement": procurement_app(
                ProcurementSettings(
                    database_url=procurement_url,
                    registry_url="http://registry.security",
                    token_url="http://identity.security/auth/token",
                    **common,
                ),
                database=dbs["procurement"],
                token_verifier=issuer.verifier(),
            ),
            "identity": identity_app(
                IdentitySettings(
                    database_url=identity_url,
                    issuer="http://127.0.0.1:8000",
                    client_cache_seconds=0.0,
                    admin_org_ids=[OPERATOR_OIN],  # the suite's operator administers
                    **common,
                ),
                database=dbs["identity"],
                token_verifier=issuer.verifier(),
            ),
        }
        built["procurement"].state.registry.http = httpx.AsyncClient(
            base_url="http://registry.security", transport=httpx.MockTransport(fake_registry)
        )
        async with (
            LifespanManager(built["registry"]),
            LifespanManager(built["procurement"]),
            LifespanManager(built["identity"]),
        ):
            yield built
        for db in dbs.values():
            await db.dispose()


@pytest.fixture
async def clients(apps: dict[str, Any]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    out: dict[str, httpx.AsyncClient] = {}
    for name, app in apps.items():
        out[name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{name}.test"
        )
    yield out
    for client in out.values():
        await client.aclose()
