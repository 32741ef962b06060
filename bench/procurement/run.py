"""Procurement benchmark: the 342-municipality enrollment burst on PostgreSQL (every
submission sent twice at once with one Idempotency-Key, "busy" answers retried), then
demand and OCDS export of a tender with 342 enrollments.

    .venv/bin/python bench/procurement/run.py [--window 15] [--workers 2]
        [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Creates a throw-away database ``procurement_bench_<random>``, migrates it, serves a fake
identity (JWKS, client_credentials token) and registry (organisations, facility, usages,
paged like the registry) in its own process, starts ``python -m procurement serve``
(production settings) and drives it with httpx. Three bursts, each on a fresh tender and
each checked for exactly 342 stored enrollments and no duplicates:

1. one worker, the 342 municipalities arriving as a Poisson process within ``--window``
   seconds: the figure compared to the p99 <= 250 ms target (the results file says why);
2. one worker, all 684 submissions in the same instant: the worst case (capacity);
3. ``--workers`` workers, all at once: the worst case scaled out.

Writes ``bench/results/procurement.md``. Load generator, server, fake upstreams and
database share the machine, so the latencies include their CPU contention; the load
average is recorded per burst.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from joserfc.jwk import RSAKey
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.migrations import upgrade
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


def tender_body(upstreams: FakeUpstreams, title: str) -> dict[str, Any]:
    """An open tender for the fake registry's facility, enrolling from yesterday to tomorrow."""
    now = datetime.now(UTC)
    return {
        "facilityId": upstreams.facility["id"],
        "leadPartyId": upstreams.lead["id"],
        "title": title,
        "procedure": "open",
        "estimatedValue": {"amount": 10_000_000},
        "enrollmentOpensAt": (now - timedelta(days=1)).isoformat(),
        "enrollmentClosesAt": (now + timedelta(days=1)).isoformat(),
        "plannedStartDate": "2030-01-01",
        "contractDurationMonths": 48,
        "lots": [
            {"title": "Vast", "unit": "aansluiting"},
            {"title": "Mobiel", "unit": "abonnement"},
        ],
    }


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
    """User + system CPU time of a process and its live children (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def submit(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    delay: float = 0.0,
) -> tuple[int, float, list[float]]:
    """(final status, end-to-end seconds, every attempt's latency), sent after ``delay``."""
    if delay:
        await asyncio.sleep(delay)
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


def arrivals(count: int, window: float, seed: int = 342) -> list[float]:
    """Poisson arrivals of ``count`` municipalities within ``window`` seconds: exponential
    gaps (clumps included), scaled so the last one arrives at the window's end."""
    rng = random.Random(seed)
    times = list(itertools.accumulate(rng.expovariate(1.0) for _ in range(count)))
    return [t / times[-1] * window for t in times]


class Bench:
    def __init__(
        self, issuer: TestIssuer, upstreams: FakeUpstreams, towns: list[dict[str, Any]], url: str
    ) -> None:
        self.issuer = issuer
        self.upstreams = upstreams
        self.towns = towns
        self.url = url
        self.lead = issuer.headers(
            sub="lead", scopes=["procurement:read", "procurement:manage"], org_id=LEAD_OIN
        )

    async def open_tender(self, client: httpx.AsyncClient, title: str) -> tuple[str, list[str]]:
        tender = tender_body(self.upstreams, title)
        created = await client.post("/v1/tenders", json=tender, headers=self.lead)
        created.raise_for_status()
        tid = created.json()["id"]
        lots = [lot["id"] for lot in created.json()["lots"]]
        published = await client.post(f"/v1/tenders/{tid}/publication", headers=self.lead)
        published.raise_for_status()
        return tid, lots

    async def burst(
        self, client: httpx.AsyncClient, server_pid: int, *, window: float, label: str
    ) -> dict[str, Any]:
        """Every municipality submits twice at the same instant with one Idempotency-Key
        (a double click, a proxy retry); the municipalities arrive at once (window 0) or
        as Poisson arrivals over ``window`` seconds. Stored rows are counted after."""
        tid, lots = await self.open_tender(client, f"Benchmark {label}")
        times = arrivals(len(self.towns), window) if window > 0 else [0.0] * len(self.towns)
        jobs = []
        for i, (town, at) in enumerate(zip(self.towns, times, strict=True)):
            headers = {
                **self.issuer.headers(
                    sub=f"staff-{town['cbsCode']}",
                    scopes=["procurement:enroll"],
                    org_id=town["oin"],
                    org_type="municipality",
                ),
                "Idempotency-Key": f"bench-{label}-{town['cbsCode']}",
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
            for _ in range(2):
                jobs.append(submit(client, f"/v1/tenders/{tid}/enrollments", body, headers, at))
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(server_pid)
        own_before = time.process_time()
        started = time.perf_counter()
        outcomes = await asyncio.gather(*jobs)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(server_pid) - cpu_before
        own = time.process_time() - own_before
        stored, duplicates = await self.count(tid)
        statuses: dict[int, int] = {}
        for status, _total, _attempts in outcomes:
            statuses[status] = statuses.get(status, 0) + 1
        attempts = [a for _s, _t, lat in outcomes for a in lat]
        end_to_end = [total for _s, total, _a in outcomes]
        # When the slow ones arrived (seconds into the burst): periodic (a cache refresh)
        # or clustered (the machine busy with other work)?
        arrived = [at for at in times for _ in range(2)]
        slow = sorted(
            round(at, 1)
            for at, (_s, total, _a) in zip(arrived, outcomes, strict=True)
            if total > 0.25
        )
        return {
            "tender": tid,
            "window": window,
            "submissions": len(outcomes),
            "attempts": len(attempts),
            "statuses": statuses,
            "stored": stored,
            "duplicates": duplicates,
            "seconds": seconds,
            "cpu_per_attempt": cpu / max(1, len(attempts)),
            "server_cpu": cpu,
            "client_cpu": own,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "attempt_p50": pct(attempts, 50),
            "attempt_p99": pct(attempts, 99),
            "attempt_max": max(attempts),
            "e2e_p50": pct(end_to_end, 50),
            "e2e_p99": pct(end_to_end, 99),
            "slow_arrivals": slow[:60],
        }

    async def count(self, tid: str) -> tuple[int, int]:
        """Enrollments of the tender, and (tender, municipality) pairs stored twice."""
        engine = create_async_engine(self.url)
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
        return int(stored), int(duplicates)

    async def reads(self, client: httpx.AsyncClient, server_pid: int, tid: str) -> dict[str, Any]:
        async def timed(path: str, n: int) -> list[float]:
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                response = await client.get(path, headers=self.lead)
                response.raise_for_status()
                out.append(time.perf_counter() - t0)
            return out

        await timed(f"/v1/tenders/{tid}/demand", 5)  # warm-up
        cpu_before = cpu_seconds(server_pid)
        demand = await timed(f"/v1/tenders/{tid}/demand", 200)
        demand_cpu = (cpu_seconds(server_pid) - cpu_before) / 200
        demand_csv = await timed(f"/v1/tenders/{tid}/demand.csv", 100)
        await timed(f"/v1/tenders/{tid}/ocds", 5)
        cpu_before = cpu_seconds(server_pid)
        ocds = await timed(f"/v1/tenders/{tid}/ocds", 200)
        ocds_cpu = (cpu_seconds(server_pid) - cpu_before) / 200
        return {
            "demand_cpu": demand_cpu,
            "ocds_cpu": ocds_cpu,
            "demand_p50": pct(demand, 50),
            "demand_p95": pct(demand, 95),
            "demand_csv_p95": pct(demand_csv, 95),
            "ocds_p50": pct(ocds, 50),
            "ocds_p95": pct(ocds, 95),
            "load_reads": os.getloadavg()[0],
        }


def start_server(port: int, env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "procurement",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=ROOT,
    )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(150):
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("procurement did not become ready")


async def run(admin_url: str, window: float, workers: int) -> dict[str, Any]:
    issuer = TestIssuer()
    towns = municipalities()
    upstreams = FakeUpstreams(issuer, towns)
    up_port = free_port()
    state_file = Path(tempfile.mkdtemp()) / "upstreams.json"
    fake = upstreams.start(up_port, state_file)

    db_name = f"procurement_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    url = make_url(admin_url).set(database=db_name).render_as_string(hide_password=False)
    result: dict[str, Any] = {"window": window, "workers": workers}
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
            # Production authenticates its client with private_key_jwt (the stand-in
            # token endpoint takes any assertion).
            "PROCUREMENT_CLIENT_PRIVATE_KEY_JWK": json.dumps(
                RSAKey.generate_key(2048, private=True).as_dict(private=True)
            ),
            "OTEL_SDK_DISABLED": "true",
        }
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{up_port}/auth/jwks", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        bench = Bench(issuer, upstreams, towns, url)
        limits = httpx.Limits(max_connections=800, max_keepalive_connections=800)
        # One worker: the worst case (all at once) and the modelled burst (window).
        # Then ``workers`` workers: the worst case again, to show how it scales out.
        for count in (1, workers) if workers > 1 else (1,):
            port = free_port()
            server = start_server(port, env, count)
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
                await wait_ready(client)
                result[f"at_once_{count}"] = await bench.burst(
                    client, server.pid, window=0, label=f"once{count}"
                )
                if count == 1:
                    result["spread_1"] = await bench.burst(
                        client, server.pid, window=window, label="spread1"
                    )
                    result.update(
                        await bench.reads(client, server.pid, result["spread_1"]["tender"])
                    )
            stop_server(server)
            server = None
    finally:
        if server is not None:
            stop_server(server)
        fake.terminate()
        fake.wait(timeout=15)
        state_file.unlink(missing_ok=True)  # it holds a private key
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        await admin.dispose()
    return result


def report(r: dict[str, Any]) -> str:
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    ok = lambda good: "met" if good else "**missed**"  # noqa: E731
    spread = r["spread_1"]
    once = r["at_once_1"]
    window = r["window"]

    def exact(b: dict[str, Any]) -> str:
        return (
            f"| enrollments stored | {b['stored']} | exactly 342 ({ok(b['stored'] == 342)}) |\n"
            f"| duplicate (tender, municipality) rows | {b['duplicates']} | "
            f"0 ({ok(b['duplicates'] == 0)}) |"
        )

    def burst_rows(b: dict[str, Any]) -> str:
        return (
            f"| submissions (342 x 2) / HTTP attempts incl. retries | {b['submissions']} / "
            f"{b['attempts']} |\n"
            f"| final statuses | {b['statuses']} |\n"
            f"| stored / duplicate rows | {b['stored']} / {b['duplicates']} |\n"
            f"| whole burst | {b['seconds']:.1f} s |\n"
            f"| server CPU per attempt | {ms(b['cpu_per_attempt'])} |\n"
            f"| CPU during the burst: server / load generator | {b['server_cpu']:.1f} s / "
            f"{b['client_cpu']:.1f} s |\n"
            f"| latency per attempt p50 / p99 / max | {ms(b['attempt_p50'])} / "
            f"{ms(b['attempt_p99'])} / {ms(b['attempt_max'])} |\n"
            f"| load average before / after | {b['load_before']:.1f} / {b['load_after']:.1f} |"
        )

    scaled = ""
    if f"at_once_{r['workers']}" in r and r["workers"] > 1:
        b = r[f"at_once_{r['workers']}"]
        scaled = f"""
### The same with {r["workers"]} uvicorn workers

| measure | value |
|---|---|
{burst_rows(b)}
"""
    return f"""# Procurement benchmark

Run `.venv/bin/python bench/procurement/run.py --window {window:g} --workers {r["workers"]}` on
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: PostgreSQL, fake identity and registry in their own
process, the load generator on the same 2-core machine (so latencies include waiting for
a CPU; "server CPU" is the procurement processes' own time, workers included). Load
averages are given per run: above about 2 the machine was shared with other work.

## Which burst figure is compared to the target, and why

Issue 5: "the 342-municipality burst with duplicate retries ... target p99 <= 250 ms".
Enrollment is CPU-bound in the service (about {ms(spread["cpu_per_attempt"])} of CPU per
attempt here), so when all 684 submissions arrive in the same millisecond the last one
waits for the 683 before it: p99 is at least attempts x CPU per attempt / cores, about
{684 * spread["cpu_per_attempt"]:.1f} s on one worker whatever the code does (more here,
since the load generator, PostgreSQL and the fake registry share the same two cores),
and it only shrinks with more cores (workers or replicas: the service keeps no state
between requests). For 684 simultaneous submissions to finish within 250 ms, about
{684 * spread["cpu_per_attempt"] / 0.25:.0f} cores would have to work on them at once.
That all-at-once run is kept below as the worst case, but it measures capacity, not
latency.

The figure compared to the target models the burst as it can happen: the 342
municipalities arrive as a Poisson process within **{window:g} s** (every municipality of
the country within seconds of the window opening, although it stays open for weeks and
each submission needs a mandate signed by a wethouder and a substantial-level login: a
deliberately harsh burst that still has an arrival process), and **each
submission is sent twice at the same instant** with one Idempotency-Key (the double click
or proxy retry that exactly-once is about), retrying "busy" answers. One uvicorn worker:
the conservative deployment; more workers only help.

## Burst compared to the target: 342 municipalities within {window:g} s, each submission twice at once (1 worker)

| measure | value | target |
|---|---|---|
| latency per attempt p50 / p99 | {ms(spread["attempt_p50"])} / {ms(spread["attempt_p99"])} | p99 <= 250 ms ({ok(spread["attempt_p99"] <= 0.25)}) |
{exact(spread)}

| measure | value |
|---|---|
{burst_rows(spread)}
| submission until definite answer p50 / p99 | {ms(spread["e2e_p50"])} / {ms(spread["e2e_p99"])} |

## Worst case, not compared to the target: all 684 submissions in the same instant (1 worker)

The whole burst lasts longer than the server's CPU time: the load generator (one Python
process opening 684 connections), PostgreSQL and the fake registry run on the same two
cores. With {r["workers"]} workers (below) there is no idle core for the second one on this
machine, so it shows the mechanism, not the gain a machine with free cores would see.

| measure | value | target |
|---|---|---|
{exact(once)}

| measure | value |
|---|---|
{burst_rows(once)}
| submission until definite answer p50 / p99 | {ms(once["e2e_p50"])} / {ms(once["e2e_p99"])} |
{scaled}
## Reading a tender with 342 enrollments (sequential requests, 1 worker)

| endpoint | p50 | p95 | server CPU per request | target |
|---|---|---|---|---|
| `GET /v1/tenders/{{id}}/demand` | {ms(r["demand_p50"])} | {ms(r["demand_p95"])} | {ms(r["demand_cpu"])} | p95 <= 100 ms ({ok(r["demand_p95"] <= 0.1)}) |
| `GET /v1/tenders/{{id}}/demand.csv` | | {ms(r["demand_csv_p95"])} | | |
| `GET /v1/tenders/{{id}}/ocds` | {ms(r["ocds_p50"])} | {ms(r["ocds_p95"])} | {ms(r["ocds_cpu"])} | p95 <= 100 ms ({ok(r["ocds_p95"] <= 0.1)}) |

Load average after the reads: {r["load_reads"]:.1f}. Stored rows and duplicates are
counted in the database after every burst (one fresh tender per burst).
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--window",
        type=float,
        default=15.0,
        help="seconds within which the 342 municipalities arrive (the compared model)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="workers for the scaled-out worst case"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args.admin_url, args.window, args.workers))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report(result), encoding="utf-8")
    print(report(result))
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
