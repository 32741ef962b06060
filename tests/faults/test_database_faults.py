"""PostgreSQL connections killed during writes (the fault suite's "PostgreSQL restarted
during writes"), with the real registry process.

The machine's PostgreSQL server is shared, so the test never restarts it: it gives the
registry a database of its own and, while writers stream POST /v1/organisations at the
registry, repeatedly terminates every server process of that database
(``pg_terminate_backend``), which is what the service sees of a restart: each pooled
connection dies, idle or in the middle of a transaction. Then:

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
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from faultkit import ROOT, JwksServer, Proc, free_port
from sqlalchemy.engine import make_url

from servicekit.testing import TestIssuer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OPERATOR_OIN = "00000001009876543000"
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


async def connect(url: str, database: str) -> Any:
    import asyncpg

    u = make_url(url)
    return await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database=database,
        timeout=5,
    )


@dataclass
class Registry:
    url: str
    database: str
    dsn: str
    issuer: TestIssuer
    process: Proc

    def writer(self) -> dict[str, str]:
        return self.issuer.headers(
            sub="faults-operator",
            scopes=["registry:read", "registry:write"],
            org_id=OPERATOR_OIN,
            org_type="operator",
            lifetime=3600,
        )


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
    tmp = tmp_path_factory.mktemp("pg-faults")
    issuer = TestIssuer()
    jwks = JwksServer(issuer)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="ignore",
        OTEL_SDK_DISABLED="true",
        REGISTRY_ENVIRONMENT="test",
        REGISTRY_DATABASE_URL=dsn,
        REGISTRY_AUTH_ISSUER=issuer.issuer,
        REGISTRY_AUTH_JWKS_URL=jwks.url,
        REGISTRY_WEBHOOKS_ENABLED="false",
        REGISTRY_LOG_JSON="false",
    )
    proc = Proc(
        "registry",
        [sys.executable, "-m", "registry", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env, port, tmp / "registry.log",
    )  # fmt: skip
    try:
        subprocess.run(
            [sys.executable, "-m", "registry", "migrate"], env=env, cwd=ROOT, check=True,
            capture_output=True, timeout=120,
        )  # fmt: skip
        proc.start()
        proc.wait_live()
        yield Registry(f"http://127.0.0.1:{port}", database, dsn, issuer, proc)
    finally:
        proc.stop()
        jwks.close()
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


def supplier(n: int) -> dict[str, Any]:
    return {"type": "supplier", "name": f"Storing {n} B.V.", "kvkNumber": f"{70000000 + n:08d}"}


async def write(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> dict[str, Any]:
    started = time.monotonic()
    r = await client.post(
        "/v1/organisations",
        json=supplier(n),
        headers={**headers, "Idempotency-Key": f"faults-{n}"},
    )
    return {
        "n": n,
        "status": r.status_code,
        "type": r.headers.get("content-type", ""),
        "retry_after": r.headers.get("retry-after"),
        "body": r.json() if r.content else None,
        "seconds": time.monotonic() - started,
        "at": started,
    }


async def test_killed_database_connections_during_writes(pg_registry: Registry) -> None:
    reg = pg_registry
    headers = reg.writer()
    counter = iter(range(1, 1_000_000))
    results: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=reg.url, timeout=30) as client:
        first = await write(client, headers, next(counter))
        assert first["status"] == 201, first
        results.append(first)

        stop = asyncio.Event()

        async def writer() -> None:
            while not stop.is_set():
                results.append(await write(client, headers, next(counter)))

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

        # Every answer: 201, or a clean 503 problem+json with Retry-After; none hung.
        statuses = Counter(r["status"] for r in results)
        assert set(statuses) <= {201, 503}, (statuses, [r for r in results if r["status"] not in (201, 503)][:3])  # fmt: skip
        for r in results:
            assert r["seconds"] < 15, f"a write took {r['seconds']:.1f} s"
            if r["status"] == 503:
                assert r["type"].startswith("application/problem+json"), r
                assert r["body"]["status"] == 503, r
                assert int(r["retry_after"] or 0) >= 1, r
        assert statuses[201] > 1, statuses

        # Recovery: without further kills, writes succeed again within the bound ...
        while True:
            r = await write(client, headers, next(counter))
            results.append(r)
            if r["status"] == 201:
                break
            assert r["status"] == 503, r
            assert time.monotonic() - last_kill < RECOVERY_BOUND, "no recovery in time"
            await asyncio.sleep(0.1)
        # ... and stay successful: no stale pooled connection is left to fail a request.
        after = [await write(client, headers, next(counter)) for _ in range(30)]
        results.extend(after)
        assert [r["status"] for r in after] == [201] * len(after), after
        assert (await client.get("/health/ready")).status_code == 200

    # The database against the answers.
    acknowledged = {r["body"]["id"] for r in results if r["status"] == 201}
    unacknowledged = sum(1 for r in results if r["status"] != 201)
    conn = await connect(reg.dsn, reg.database)
    try:
        orgs = {str(row["id"]) for row in await conn.fetch("SELECT id FROM organisations")}
        history = Counter(
            (str(row["entity_id"]), row["action"])
            for row in await conn.fetch(
                "SELECT entity_id, action FROM history WHERE entity_type = 'organisation'"
            )
        )
        events = Counter(
            row["subject"]
            for row in await conn.fetch(
                "SELECT subject FROM event_outbox WHERE type LIKE '%organisation.created'"
            )
        )
        stuck = await conn.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE state = 'in-flight'"
        )
    finally:
        await conn.close()
    lost = acknowledged - orgs
    assert not lost, f"acknowledged writes lost: {sorted(lost)[:5]}"
    # An unacknowledged write may have committed (the answer was lost with the connection),
    # never more than one per unacknowledged request.
    assert len(orgs - acknowledged) <= unacknowledged
    for org in orgs:
        assert history[(org, "created")] == 1, f"{org}: history {history[(org, 'created')]}"
        assert events[f"organisations/{org}"] == 1, (
            f"{org}: {events[f'organisations/{org}']} events"
        )
    assert {e for e, _a in history} <= orgs, "history of an organisation that is not there"
    assert {s.removeprefix("organisations/") for s in events} <= orgs, "event without a row"
    # A key can stay in-flight only when its request was not acknowledged (its outcome
    # was lost with the connection); it expires after the in-flight timeout.
    assert stuck <= unacknowledged
