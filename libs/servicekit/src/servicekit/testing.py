"""Test helpers shared by every part's tests: a token issuer with its own key, and
fresh databases on SQLite or on the PostgreSQL named by ``TEST_DATABASE_URL``.

Not imported by production code.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool, QueuePool

from .auth import LOA_SUBSTANTIAL, JwksCache, TokenVerifier
from .db import Database
from .migrations import upgrade

TEST_ISSUER = "https://identity.test"
TEST_AUDIENCE = "samen"


class TestIssuer:
    """Signs access tokens like the identity service does, with a throw-away key."""

    __test__ = False  # not a pytest test class

    def __init__(self, issuer: str = TEST_ISSUER, audience: str = TEST_AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": f"test-{uuid.uuid4().hex[:8]}", "use": "sig", "alg": "RS256"}
        )
        self.jwks_fetches = 0

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    async def fetch_jwks(self) -> dict[str, Any]:
        self.jwks_fetches += 1
        return self.jwks()

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(JwksCache(self.fetch_jwks), issuer=self.issuer, audience=self.audience)

    def token(
        self,
        *,
        sub: str = "user-1",
        scopes: list[str] | tuple[str, ...] = (),
        org_id: str | None = None,
        org_type: str | None = None,
        roles: list[str] | tuple[str, ...] = (),
        acr: str | None = LOA_SUBSTANTIAL,
        azp: str = "test-client",
        lifetime: int = 300,
        **extra: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "azp": azp,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(scopes),
        }
        if org_id:
            claims["org_id"] = org_id
        if org_type:
            claims["org_type"] = org_type
        if roles:
            claims["roles"] = list(roles)
        if acr:
            claims["acr"] = acr
        claims.update(extra)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "at+jwt"}, claims, self.key)

    def headers(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}


def test_database_base_url() -> str | None:
    """``TEST_DATABASE_URL`` (PostgreSQL) or None for SQLite."""
    return os.environ.get("TEST_DATABASE_URL") or None


def _asyncpg_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database_url(name: str, tmp_dir: Path) -> AsyncIterator[str]:
    """A new, empty database for one test session; dropped afterwards.

    PostgreSQL: ``CREATE DATABASE t_<name>_<random>`` next to TEST_DATABASE_URL's
    database, so parallel or repeated runs never collide. SQLite: a file in ``tmp_dir``.
    """
    base = test_database_base_url()
    if not base:
        yield f"sqlite+aiosqlite:///{tmp_dir / f'{name}.db'}"
        return
    base = _asyncpg_url(base)
    db_name = f"t_{name}_{uuid.uuid4().hex[:12]}"
    # No pool: the admin connection is needed twice per test session, and one kept open
    # per session would count against PostgreSQL's max_connections all run long.
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    try:
        yield make_url(base).set(database=db_name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        await admin.dispose()


async def migrated_database(migrations_package: str, url: str) -> Database:
    """Apply the service's real migrations (tests exercise them) and open it."""
    await asyncio.to_thread(upgrade, migrations_package, url)
    return Database(url)


async def clear_tables(database: Database, metadata: MetaData, keep: tuple[str, ...] = ()) -> None:
    """Empty every table between tests (works for code that commits and for concurrency)."""
    tables = [t for t in reversed(metadata.sorted_tables) if t.name not in keep]
    async with database.engine.begin() as conn:
        if database.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            if names:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(table.delete())
    await release_idle_connections(database)


# Idle connections a test database's pool may keep between tests; a test that opened
# more (a burst of requests) gives them back, so the whole suite fits in PostgreSQL's
# default max_connections (100) with room for the services the end-to-end tests start.
IDLE_CONNECTIONS_KEPT = 4


async def release_idle_connections(database: Database) -> None:
    pool = database.engine.pool
    if isinstance(pool, QueuePool) and pool.checkedin() > IDLE_CONNECTIONS_KEPT:
        await database.engine.dispose()
