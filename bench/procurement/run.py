"""Procurement benchmark: all 342 municipalities enroll at once on PostgreSQL, every
submission sent twice with the same Idempotency-Key and retried; then demand and OCDS
export of that tender.

    .venv/bin/python bench/procurement/run.py [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Creates a throw-away database ``procurement_bench_<random>``, migrates it, serves a fake
identity (JWKS, client_credentials token) and registry (organisations, facility, usages)
from this process on a free port, starts ``python -m procurement serve`` on another free
port (production settings, one worker) and drives it with httpx. Writes percentiles to
``bench/results/procurement.md``. Targets from issue 5: burst p99 <= 250 ms with exactly
342 enrollments stored; demand and OCDS p95 <= 100 ms. Load generator, server and
database share the machine, so the numbers include their CPU contention.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.db import upgrade
from servicekit.testing import TestIssuer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = ROOT / "bench" / "results" / "procurement.md"
MUNICIPALITIES_CSV = ROOT / "tests" / "procurement" / "data" / "municipalities.csv"
LEAD_OIN = "00000003273237580000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def municipalities() -> list[dict[str, Any]]:
    with MUNICIPALITIES_CSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"samen-bench/{r['cbs_code']}")),
            "type": "municipality",
            "name": r["common_name"] or r["name"],
            "cbsCode": r["cbs_code"],
            "oin": f"00000001{int(r['cbs_code'][2:]):09d}000",
            "province": r["province"],
            "memberIds": [],
        }
        for r in rows
    ]


class FakeUpstreams:
    """Registry data and the signing key, handed to fake_upstreams.py in its own process."""

    def __init__(self, issuer: TestIssuer, municipalities: list[dict[str, Any]]) -> None:
        self.issuer = issuer
        self.facility = {
            "id": str(uuid.uuid4()),
            "slug": "telefonie",
            "name": "Gezamenlijke telefonie",
            "kind": "agreement",
            "stage": "operational",
        }
        self.lead = {
            "id": str(uuid.uuid4()),
            "type": "cooperation",
            "name": "VNG inkoop",
            "oin": LEAD_OIN,
            "memberIds": [],
        }
        self.organisations = [self.lead, *municipalities]
        # Half of the municipalities have a contract whose end proposes the start date.
        self.usages = {
            m["id"]: [
                {
                    "id": str(uuid.uuid4()),
                    "municipalityId": m["id"],
                    "facilityId": self.facility["id"],
                    "status": "active",
                    "contractEndDate": (date(2027, 1, 1) + timedelta(days=i)).isoformat(),
                }
            ]
            for i, m in enumerate(municipalities)
            if i % 2 == 0
        }

    def start(self, port: int, state_file: Path) -> subprocess.Popen[bytes]:
        state = {
            "key": self.issuer.key.as_dict(private=True),
            "issuer": self.issuer.issuer,
            "facility": self.facility,
            "organisations": self.organisations,
            "usages": self.usages,
        }
        state_file.write_text(json.dumps(state), encoding="utf-8")
        return subprocess.Popen(
            [sys.executable, str(HERE / "fake_upstreams.py"), str(port), str(state_file)]
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report CPU per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def submit(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, float, list[float]]:
    """(final status, end-to-end seconds, every attempt's latency)."""
    started = time.perf_counter()
    attempts: list[float] = []
    status = 0
    for _ in range(100):
        t0 = time.perf_counter()
        try:
            response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError:
            # A timed-out attempt counts with its latency and is retried like a 503.
            attempts.append(time.perf_counter() - t0)
            status = 599
            continue
        attempts.append(time.perf_counter() - t0)
        status = response.status_code
        in_flight = status == 409 and "idempotency-in-flight" in response.text
        if status not in (409, 503) or (status == 409 and not in_flight):
            break
        await asyncio.sleep(0.05)
    return status, time.perf_counter() - started, attempts


async def run(admin_url: str) -> dict[str, Any]:
    issuer = TestIssuer()
    towns = municipalities()
    upstreams = FakeUpstreams(issuer, towns)
    up_port, port = free_port(), free_port()
    state_file = Path(tempfile.mkdtemp()) / "upstreams.json"
    fake = upstreams.start(up_port, state_file)

    db_name = f"procurement_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    url = make_url(admin_url).set(database=db_name).render_as_string(hide_password=False)
    server: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(upgrade, "procurement.migrations", url)
        env = {
            **os.environ,
            "PROCUREMENT_ENVIRONMENT": "production",
            "PROCUREMENT_DATABASE_URL": url,
            "PROCUREMENT_REGISTRY_URL": f"http://127.0.0.1:{up_port}",
            "PROCUREMENT_TOKEN_URL": f"http://127.0.0.1:{up_port}/auth/token",
            "PROCUREMENT_AUTH_JWKS_URL": f"http://127.0.0.1:{up_port}/auth/jwks",
            "PROCUREMENT_AUTH_ISSUER": issuer.issuer,
            "PROCUREMENT_LOG_LEVEL": "WARNING",
            "OTEL_SDK_DISABLED": "true",
        }
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{up_port}/auth/jwks", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        server = subprocess.Popen(
            [sys.executable, "-m", "procurement", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=800, max_keepalive_connections=800)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            for _ in range(150):
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("procurement did not become ready")

            lead = issuer.headers(
                sub="lead", scopes=["procurement:read", "procurement:manage"], org_id=LEAD_OIN
            )
            now = datetime.now(UTC)
            tender = {
                "facilityId": upstreams.facility["id"],
                "leadPartyId": upstreams.lead["id"],
                "title": "Benchmark telefonie",
                "procedure": "open",
                "estimatedValue": {"amount": 10_000_000},
                "enrollmentOpensAt": (now - timedelta(days=1)).isoformat(),
                "enrollmentClosesAt": (now + timedelta(days=1)).isoformat(),
                "plannedStartDate": "2027-01-01",
                "contractDurationMonths": 48,
                "lots": [
                    {"title": "Vast", "unit": "aansluiting"},
                    {"title": "Mobiel", "unit": "abonnement"},
                ],
            }
            created = await client.post("/v1/tenders", json=tender, headers=lead)
            created.raise_for_status()
            tid = created.json()["id"]
            lots = [lot["id"] for lot in created.json()["lots"]]
            (await client.post(f"/v1/tenders/{tid}/publication", headers=lead)).raise_for_status()

            jobs = []
            for i, town in enumerate(towns):
                headers = {
                    **issuer.headers(
                        sub=f"staff-{town['cbsCode']}",
                        scopes=["procurement:enroll"],
                        org_id=town["oin"],
                        org_type="municipality",
                    ),
                    "Idempotency-Key": f"bench-{town['cbsCode']}",
                }
                body = {
                    "lots": [
                        {"lotId": lots[0], "expectedVolume": 50 + i},
                        {"lotId": lots[1], "expectedVolume": 200 + i},
                    ],
                    "mandate": {
                        "signerName": "Bench Signer",
                        "signerRole": "wethouder",
                        "signedDate": date.today().isoformat(),
                        "authorisesLeadParty": True,
                    },
                }
                jobs.append(submit(client, f"/v1/tenders/{tid}/enrollments", body, headers))
                jobs.append(submit(client, f"/v1/tenders/{tid}/enrollments", body, headers))
            load_before = os.getloadavg()[0]
            cpu_before = cpu_seconds(server.pid)
            burst_started = time.perf_counter()
            outcomes = await asyncio.gather(*jobs)
            burst_seconds = time.perf_counter() - burst_started
            burst_cpu = cpu_seconds(server.pid) - cpu_before

            engine = create_async_engine(url)
            async with engine.connect() as conn:
                stored = (
                    await conn.execute(
                        text("SELECT count(*) FROM enrollments WHERE tender_id = :t"),
                        {"t": uuid.UUID(tid)},
                    )
                ).scalar_one()
                duplicates = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM (SELECT municipality_oin FROM enrollments "
                            "GROUP BY tender_id, municipality_oin HAVING count(*) > 1) d"
                        )
                    )
                ).scalar_one()
            await engine.dispose()

            async def timed(path: str, n: int) -> list[float]:
                out = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    response = await client.get(path, headers=lead)
                    response.raise_for_status()
                    out.append(time.perf_counter() - t0)
                return out

            await timed(f"/v1/tenders/{tid}/demand", 5)  # warm-up
            cpu_before = cpu_seconds(server.pid)
            demand = await timed(f"/v1/tenders/{tid}/demand", 200)
            demand_cpu = (cpu_seconds(server.pid) - cpu_before) / 200
            demand_csv = await timed(f"/v1/tenders/{tid}/demand.csv", 100)
            cpu_before = cpu_seconds(server.pid)
            ocds = await timed(f"/v1/tenders/{tid}/ocds", 200)
            ocds_cpu = (cpu_seconds(server.pid) - cpu_before) / 200
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        fake.terminate()
        fake.wait(timeout=15)
        state_file.unlink(missing_ok=True)  # it holds a private key
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        await admin.dispose()

    statuses: dict[int, int] = {}
    for status, _total, _attempts in outcomes:
        statuses[status] = statuses.get(status, 0) + 1
    end_to_end = [total for _s, total, _a in outcomes]
    attempts = [a for _s, _t, lat in outcomes for a in lat]
    return {
        "submissions": len(outcomes),
        "attempts": len(attempts),
        "statuses": statuses,
        "stored": int(stored),
        "duplicates": int(duplicates),
        "burst_seconds": burst_seconds,
        "burst_cpu_per_attempt": burst_cpu / max(1, len(attempts)),
        "load_before": load_before,
        "demand_cpu": demand_cpu,
        "ocds_cpu": ocds_cpu,
        "attempt_p50": pct(attempts, 50),
        "attempt_p99": pct(attempts, 99),
        "e2e_p50": pct(end_to_end, 50),
        "e2e_p99": pct(end_to_end, 99),
        "demand_p50": pct(demand, 50),
        "demand_p95": pct(demand, 95),
        "demand_csv_p95": pct(demand_csv, 95),
        "ocds_p50": pct(ocds, 50),
        "ocds_p95": pct(ocds, 95),
        "demand_mean": statistics.mean(demand),
    }


def report(r: dict[str, Any]) -> str:
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    ok = lambda good: "met" if good else "**missed**"  # noqa: E731
    return f"""# Procurement benchmark

Run `{" ".join([".venv/bin/python", "bench/procurement/run.py"])}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC
(PostgreSQL, one uvicorn worker, load generator on the same 2-core machine; load average
{r["load_before"]:.1f} when the burst started: the machine was shared with other work, so
latencies include waiting for a CPU; "server CPU" is the procurement process's own time).

## 342 municipalities enrolling at once

Each municipality sends its submission twice at the same moment with one Idempotency-Key,
and retries "in flight" (409) and "busy" (503) answers.

| measure | value | target |
|---|---|---|
| submissions (342 x 2) | {r["submissions"]} | |
| HTTP attempts incl. retries | {r["attempts"]} | |
| final statuses | {r["statuses"]} | all 201 |
| enrollments stored | {r["stored"]} | exactly 342 ({ok(r["stored"] == 342)}) |
| duplicate (tender, municipality) rows | {r["duplicates"]} | 0 ({ok(r["duplicates"] == 0)}) |
| whole burst | {r["burst_seconds"]:.1f} s | |
| server CPU per attempt | {ms(r["burst_cpu_per_attempt"])} | |
| latency per attempt p50 / p99 | {ms(r["attempt_p50"])} / {ms(r["attempt_p99"])} | p99 <= 250 ms ({ok(r["attempt_p99"] <= 0.25)}) |
| submission until definite answer p50 / p99 | {ms(r["e2e_p50"])} / {ms(r["e2e_p99"])} | |

## Reading a tender with 342 enrollments (sequential requests)

| endpoint | p50 | p95 | server CPU per request | target |
|---|---|---|---|---|
| `GET /v1/tenders/{{id}}/demand` | {ms(r["demand_p50"])} | {ms(r["demand_p95"])} | {ms(r["demand_cpu"])} | p95 <= 100 ms ({ok(r["demand_p95"] <= 0.1)}) |
| `GET /v1/tenders/{{id}}/demand.csv` | | {ms(r["demand_csv_p95"])} | | |
| `GET /v1/tenders/{{id}}/ocds` | {ms(r["ocds_p50"])} | {ms(r["ocds_p95"])} | {ms(r["ocds_cpu"])} | p95 <= 100 ms ({ok(r["ocds_p95"] <= 0.1)}) |

With 684 requests arriving in the same instant on one worker, latency per request is
mostly queueing: the burst's p99 measures how long the last of them waited. The work
itself is CPU-bound in the one worker (CPU per attempt times attempts is the floor for the
whole burst), so the p99 <= 250 ms target for 684 simultaneous submissions needs several
workers or replicas; the service is stateless apart from its database, so it scales out.
Stored rows and duplicates are counted in the database after the burst.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    result = asyncio.run(run(args.admin_url))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report(result), encoding="utf-8")
    print(report(result))
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
