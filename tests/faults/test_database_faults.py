"""PostgreSQL connections killed during writes (the fault suite's "PostgreSQL restarted
during writes", first half), with the real registry process.

The machine's PostgreSQL server is shared, so this test never restarts it: it gives the
registry a database of its own and, while writers stream POST /v1/organisations at the
registry, repeatedly terminates every server process of that database
(``pg_terminate_backend``), which is what the service sees of a restart: each pooled
connection dies, idle or in the middle of a transaction. (A real restart, of a throw-away
server of the test's own, is test_postgres_restart.py.) Then:

- every write got 201 or a clean problem+json 503 with Retry-After (never a 500, never a
  hang);
- no acknowledged write is lost, and nothing is half-written: each organisation in the
  database has exactly its one history row and its one outbox event, and no history row
  or event points at an organisation that is not there;
- the service recovers by itself (pool pre-ping, fresh connections) within a bound once
  the killing stops, and then serves writes and readiness without a single error.

Runs in the PostgreSQL pass only (TEST_DATABASE_URL); skipped with the reason otherwise."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pgfaults import (
    Registry,
    assert_clean_answers,
    assert_database_matches,
    connect,
    recover,
    registry_on,
)
from sqlalchemy.engine import make_url

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

WRITERS = 4
KILL_SECONDS = 6.0
KILL_EVERY = 0.25
RECOVERY_BOUND = 5.0  # seconds from the last kill to a served write


def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or ""
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: the PostgreSQL fault runs in the PG pass")
    if make_url(url).get_backend_name() != "postgresql":
        pytest.skip(f"TEST_DATABASE_URL is not PostgreSQL ({make_url(url).get_backend_name()})")
    return url


@pytest.fixture(scope="module")
async def pg_registry(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Registry]:
    base = postgres_url()
    try:
        admin = await connect(base, make_url(base).database or "postgres")
    except Exception as exc:  # any reason (refused, auth, timeout) means: not reachable
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc!r}")
    # A database of our own: killing its connections touches no other session's work.
    database = f"faults_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{database}"')
    dsn = make_url(base).set(database=database).render_as_string(hide_password=False)
    try:
        with registry_on(dsn, tmp_path_factory.mktemp("pg-faults")) as registry:
            yield registry
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def kill_connections(killer: Any, database: str) -> int:
    """Terminate every server process of ``database`` but the killer's own."""
    rows = await killer.fetch(
        "SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    return sum(1 for r in rows if r["gone"])


async def test_killed_database_connections_during_writes(pg_registry: Registry) -> None:
    reg = pg_registry
    headers = reg.writer()
    async with httpx.AsyncClient(base_url=reg.url, timeout=30) as client:
        first = await reg.write(client, headers)
        assert first["status"] == 201, first

        stop = asyncio.Event()

        async def writer() -> None:
            while not stop.is_set():
                await reg.write(client, headers)

        killer = await connect(reg.dsn, reg.database)
        killed = 0
        tasks = [asyncio.create_task(writer()) for _ in range(WRITERS)]
        try:
            deadline = time.monotonic() + KILL_SECONDS
            while time.monotonic() < deadline:
                killed += await kill_connections(killer, reg.database)
                await asyncio.sleep(KILL_EVERY)
            last_kill = time.monotonic()
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await killer.close()
        assert killed > 0, "no registry connection was ever terminated"

        statuses = assert_clean_answers(reg.results)
        assert statuses[201] > 1, statuses

        # Recovery: without further kills, writes succeed again within the bound.
        await recover(reg, client, headers, last_kill, RECOVERY_BOUND)

    await assert_database_matches(reg)
