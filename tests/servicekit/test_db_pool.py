"""Pooled connections: a connection the server dropped while it sat idle in the pool is
noticed on checkout and replaced, without a ping for connections in steady use."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from servicekit.db import Database
from servicekit.testing import fresh_database_url
from servicekit.testing import test_database_base_url as postgres_url

pytestmark = pytest.mark.skipif(not postgres_url(), reason="needs PostgreSQL (TEST_DATABASE_URL)")


async def _backend_pid(database: Database) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_killed_while_idle_is_replaced(tmp_path: Path) -> None:
    async with fresh_database_url("pool", tmp_path) as url:
        database = Database(url, pool_size=1, ping_after_idle_seconds=0)
        admin = Database(url, pool_size=1)
        try:
            first = await _backend_pid(database)
            async with admin.engine.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            # The pooled connection is dead; the checkout ping notices and reconnects.
            second = await _backend_pid(database)
            assert second != first
        finally:
            await database.dispose()
            await admin.dispose()


async def test_connections_in_steady_use_are_not_pinged(tmp_path: Path) -> None:
    async with fresh_database_url("pool", tmp_path) as url:
        database = Database(url, pool_size=1, ping_after_idle_seconds=60)
        pings = 0
        dialect = database.engine.dialect
        original = dialect.do_ping

        def counting_ping(dbapi_connection: object) -> bool:
            nonlocal pings
            pings += 1
            return original(dbapi_connection)

        dialect.do_ping = counting_ping  # type: ignore[method-assign]
        try:
            for _ in range(3):
                await _backend_pid(database)
            assert pings == 0
        finally:
            await database.dispose()
