"""Registry test fixtures: a migrated database per session (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), emptied before every test, and the app behind httpx."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from registry.config import Settings
from registry.db import load_models, metadata
from registry.main import create_app
from servicekit.db import Database
from servicekit.testing import TestIssuer, clear_tables, fresh_database_url, migrated_database

OPERATOR_OIN = "00000001009876543000"
UTRECHT_OIN = "00000001001234567000"
AMERSFOORT_OIN = "00000001007654321000"
SUPPLIER_KVK = "90000001"
OTHER_KVK = "90000002"


@pytest.fixture(scope="session")
async def registry_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    load_models()
    tmp: Path = tmp_path_factory.mktemp("registry")
    async with fresh_database_url("registry", tmp) as url:
        database = await migrated_database("registry.migrations", url)
        try:
            yield database
        finally:
            await database.dispose()


@pytest.fixture(scope="session")
def registry_app(registry_db: Database, issuer: TestIssuer) -> FastAPI:
    settings = Settings(
        environment="test", database_url=registry_db.url, otel_sdk_disabled=True, log_json=False
    )
    return create_app(settings, database=registry_db, token_verifier=issuer.verifier())


@pytest.fixture
async def client(registry_app: FastAPI, registry_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    await clear_tables(registry_db, metadata)
    transport = httpx.ASGITransport(app=registry_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
        yield c


class Tokens:
    """Bearer headers for the roles the registry distinguishes."""

    OPERATOR_OIN = OPERATOR_OIN
    UTRECHT_OIN = UTRECHT_OIN
    AMERSFOORT_OIN = AMERSFOORT_OIN
    SUPPLIER_KVK = SUPPLIER_KVK
    OTHER_KVK = OTHER_KVK

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer

    def reader(self) -> dict[str, str]:
        return self.issuer.headers(sub="reader", scopes=["registry:read"])

    def contracts_reader(self) -> dict[str, str]:
        """A service or lead party that reads every organisation's contract details."""
        return self.issuer.headers(sub="lead-party", scopes=["registry:read", "registry:contracts"])

    def operator(self, oin: str = OPERATOR_OIN) -> dict[str, str]:
        return self.issuer.headers(
            sub="vng-admin",
            scopes=["registry:read", "registry:write", "registry:exposure", "registry:contracts"],
            org_id=oin,
            org_type="operator",
        )

    def municipality(self, oin: str = UTRECHT_OIN, sub: str = "civil-servant") -> dict[str, str]:
        return self.issuer.headers(
            sub=sub,
            scopes=["registry:read", "registry:write", "registry:exposure"],
            org_id=oin,
            org_type="municipality",
        )

    def supplier(self, kvk: str = SUPPLIER_KVK, sub: str = "supplier-staff") -> dict[str, str]:
        return self.issuer.headers(
            sub=sub,
            scopes=["registry:read", "registry:write", "registry:exposure"],
            org_id=kvk,
            org_type="supplier",
        )


@pytest.fixture
def tokens(issuer: TestIssuer) -> Tokens:
    return Tokens(issuer)


Maker = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_org(client: httpx.AsyncClient, tokens: Tokens) -> Maker:
    counter = iter(range(1000, 9999))

    async def make(type: str = "municipality", **fields: Any) -> dict[str, Any]:
        n = next(counter)
        body: dict[str, Any] = {"type": type, "name": fields.pop("name", f"{type} {n}")}
        if type == "municipality":
            body["cbsCode"] = fields.pop("cbsCode", f"GM{n:04d}")
            body["province"] = fields.pop("province", "Utrecht")
        if type == "supplier":
            body["kvkNumber"] = fields.pop("kvkNumber", f"9{n:07d}")
        if type == "operator":
            body["oin"] = fields.pop("oin", OPERATOR_OIN)
        body.update(fields)
        r = await client.post("/v1/organisations", json=body, headers=tokens.operator())
        assert r.status_code == 201, r.text
        return dict(r.json())

    return make


@pytest.fixture
def make_facility(client: httpx.AsyncClient, tokens: Tokens) -> Maker:
    async def make(**fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "slug": f"f-{uuid.uuid4().hex[:10]}",
            "name": "Facility",
            "kind": "infrastructure",
            "theme": "connectivity",
        }
        body.update(fields)
        r = await client.post("/v1/facilities", json=body, headers=tokens.operator())
        assert r.status_code == 201, r.text
        return dict(r.json())

    return make


History = Callable[[uuid.UUID], Awaitable[list[tuple[str, str | None]]]]


@pytest.fixture
def history(registry_db: Database) -> History:
    """The (action, actor organisation) of each history row of an entity, oldest first:
    what service tests check a change left behind."""
    from sqlalchemy import select

    from registry.changes.models import HistoryEntry

    async def read(entity_id: uuid.UUID) -> list[tuple[str, str | None]]:
        query = (
            select(HistoryEntry.action, HistoryEntry.actor_org)
            .where(HistoryEntry.entity_id == entity_id)
            .order_by(HistoryEntry.at, HistoryEntry.id)
        )
        async with registry_db.sessionmaker() as session:
            return [(a, o) for a, o in (await session.execute(query)).all()]

    return read
