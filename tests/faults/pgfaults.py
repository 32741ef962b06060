"""Shared by the PostgreSQL faults (killed connections, restarted server): the registry as a
real process on a given PostgreSQL database, a stream of registry writes, and the checks of
the answers and of the database afterwards."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from faultkit import ROOT, JwksServer, Proc, free_port
from sqlalchemy.engine import make_url

from servicekit.testing import TestIssuer

OPERATOR_OIN = "00000001009876543000"
WRITE_BOUND = 15.0  # seconds: no write may take longer (the client gives up at 30)


async def connect(url: str, database: str | None = None) -> Any:
    import asyncpg

    u = make_url(url)
    return await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database=database or u.database,
        timeout=5,
    )


@dataclass
class Registry:
    url: str
    database: str
    dsn: str
    issuer: TestIssuer
    process: Proc
    counter: Iterator[int] = field(default_factory=lambda: count(1))
    # Every answer of every test on this registry: the database check is cumulative.
    results: list[dict[str, Any]] = field(default_factory=list)

    def writer(self) -> dict[str, str]:
        return self.issuer.headers(
            sub="faults-operator",
            scopes=["registry:read", "registry:write"],
            org_id=OPERATOR_OIN,
            org_type="operator",
            lifetime=3600,
        )

    async def write(self, client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
        result = await write(client, headers, next(self.counter))
        self.results.append(result)
        return result


@contextmanager
def registry_on(dsn: str, tmp: Path) -> Iterator[Registry]:
    """``registry migrate`` on ``dsn``, then ``registry serve`` on a free port."""
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
        database = make_url(dsn).database or ""
        yield Registry(f"http://127.0.0.1:{port}", database, dsn, issuer, proc)
    finally:
        proc.stop()
        jwks.close()


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


def assert_clean_answers(results: list[dict[str, Any]]) -> Counter[int]:
    """Every answer is a 201 or a clean 503 problem+json with Retry-After; none hung."""
    statuses = Counter(r["status"] for r in results)
    odd = [r for r in results if r["status"] not in (201, 503)]
    assert not odd, (statuses, odd[:3])
    for r in results:
        assert r["seconds"] < WRITE_BOUND, f"a write took {r['seconds']:.1f} s"
        if r["status"] == 503:
            assert r["type"].startswith("application/problem+json"), r
            assert r["body"]["status"] == 503, r
            assert int(r["retry_after"] or 0) >= 1, r
    return statuses


async def recover(
    reg: Registry, client: httpx.AsyncClient, headers: dict[str, str], since: float, bound: float
) -> float:
    """Writes succeed again within ``bound`` seconds of ``since`` (only 503s meanwhile), and
    then stay successful: no stale pooled connection is left to fail a request. Returns the
    seconds from ``since`` to the first served write."""
    while True:
        r = await reg.write(client, headers)
        if r["status"] == 201:
            recovered = time.monotonic() - since
            break
        assert r["status"] == 503, r
        assert time.monotonic() - since < bound, f"no served write within {bound} s"
        await asyncio.sleep(0.1)
    after = [await reg.write(client, headers) for _ in range(30)]
    assert [r["status"] for r in after] == [201] * len(after), after
    assert (await client.get("/health/ready")).status_code == 200
    return recovered


async def assert_database_matches(reg: Registry) -> None:
    """No acknowledged write is lost, and nothing is half-written: each organisation has
    exactly its one history row and its one outbox event, and no history row or event points
    at an organisation that is not there."""
    results = reg.results
    acknowledged = {r["body"]["id"] for r in results if r["status"] == 201}
    unacknowledged = sum(1 for r in results if r["status"] != 201)
    conn = await connect(reg.dsn)
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
