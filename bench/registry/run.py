"""Registry benchmark: PostgreSQL with 342 municipalities, 200 suppliers, 100 000
offerings and 70 000 usages; list, detail, search and radar at 32 concurrent clients.

    .venv/bin/python bench/registry/run.py [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Creates a throw-away database ``registry_bench_<random>``, migrates it, bulk-loads the
data with COPY, starts ``python -m registry serve`` on a free port (production settings,
tokens signed by a local test issuer whose JWKS this script serves), drives the load with
wrk and writes latency percentiles, throughput and the server's peak RSS to
``bench/registry/results.json`` and ``results.md``. Targets from issue 4: p95 <= 25 ms for
list/search/detail, <= 100 ms for radar, RSS <= 150 MB. The load generator runs on the
same machine as the server and the database, so the numbers include its CPU contention.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from joserfc.jwk import RSAKey
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from registry.config import Settings
from registry.notices.service import crossed
from registry.usages.radar import notice_deadline
from servicekit.migrations import upgrade
from servicekit.testing import TestIssuer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
THEMES = ["connectivity", "security", "telephony", "identity", "data", "architecture",
          "finance", "social-domain", "archive", "workplace", "geo", "permits"]  # fmt: skip
KINDS = ["infrastructure", "application", "service", "standard", "agreement"]
STAGES = ["initiative", "pilot", "impact-analysis", "implementation", "operational"]
WORDS = [
    "zaaksysteem",
    "archief",
    "telefonie",
    "netwerk",
    "beveiliging",
    "identiteit",
    "gegevens",
    "koppeling",
    "portaal",
    "burgerzaken",
    "belastingen",
    "vergunningen",
    "subsidies",
    "jeugdzorg",
    "wmo",
    "participatie",
    "inkomen",
    "schuldhulp",
    "afvalbeheer",
    "parkeren",
    "handhaving",
    "geodata",
    "kadaster",
    "adressen",
    "gebouwen",
    "verkiezingen",
    "raadsinformatie",
    "documenten",
    "post",
    "email",
    "werkplek",
    "cloud",
    "hosting",
    "back-up",
    "monitoring",
    "logging",
    "toegang",
    "autorisatie",
    "betalen",
    "facturen",
    "boekhouding",
    "salaris",
    "personeel",
    "planning",
    "roosters",
    "klantcontact",
    "chat",
    "telefooncentrale",
    "mobiel",
    "vast",
    "glasvezel",
    "wifi",
    "servicedesk",
    "formulieren",
    "afspraken",
    "berichten",
    "notificaties",
    "dashboards",
    "rapportages",
    "analyse",
    "open-data",
    "publicatie",
    "woo",
    "transparantie",
    "privacy",
    "avg",
    "dpia",
    "audit",
    "certificering",
]
# Rarer terms, like the compound words of real product texts ("zaaksysteemkoppeling").
COMPOUNDS = [a + b for a in WORDS[:40] for b in WORDS[40:80]]
PRICE_MODELS = ["free", "fixed", "subscription", "per-inhabitant", "per-user", "usage-based"]
STATUSES = ["active"] * 8 + ["planned"] + ["ended"]


def scenario_urls(facility_ids: list[Any], offering_ids: list[Any], n: int) -> dict[str, list[str]]:
    """``n`` URLs per scenario (the same ones every run: a fixed seed)."""
    rng = random.Random(7)
    return {
        "list_offerings": [f"/v1/offerings?page={rng.randint(1, 50)}&pageSize=20" for _ in range(n)],
        "list_facility_offerings": [f"/v1/offerings?facilityId={rng.choice(facility_ids)}" for _ in range(n)],
        "list_usages": [f"/v1/usages?facilityId={rng.choice(facility_ids)}&status=active" for _ in range(n)],
        "detail_offering": [f"/v1/offerings/{rng.choice(offering_ids)}" for _ in range(n)],
        "detail_facility": [f"/v1/facilities/{rng.choice(facility_ids)}" for _ in range(n)],
        "search_rare_word": [f"/v1/search?q={rng.choice(COMPOUNDS)}" for _ in range(n)],
        "search_common_word": [f"/v1/search?q={rng.choice(WORDS)}" for _ in range(n)],
        "search_two_words": [f"/v1/search?q={rng.choice(WORDS)}+{rng.choice(COMPOUNDS)}" for _ in range(n)],
        "radar": [f"/v1/facilities/{rng.choice(facility_ids)}/radar?within=P18M" for _ in range(n)],
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_jwks(issuer: TestIssuer) -> tuple[ThreadingHTTPServer, int]:
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


async def create_database(admin_url: str) -> str:
    name = f"registry_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def sentence(rng: random.Random, n: int, rare: int = 0) -> str:
    words = [rng.choice(WORDS) for _ in range(n)] + [rng.choice(COMPOUNDS) for _ in range(rare)]
    return " ".join(words)


async def load_data(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Bulk-load the data set with COPY; returns ids the scenarios pick from."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    engine = create_async_engine(url)
    municipalities, suppliers, facilities, offerings = [], [], [], []
    csv_rows = (
        (ROOT / "services/registry/src/registry/seed/municipalities.csv").read_text().splitlines()
    )
    import csv

    for i, row in enumerate(csv.DictReader(csv_rows)):
        municipalities.append((uuid.uuid4(), "municipality", row["name"], row["cbs_code"],
                               f"00000001{i:09d}000", None, row["province"], 1, now, now))  # fmt: skip
    for i in range(args.suppliers):
        suppliers.append((uuid.uuid4(), "supplier", f"Leverancier {i} B.V.", None, None,
                          f"8{i:07d}", None, 1, now, now))  # fmt: skip
    for i in range(args.facilities):
        name = f"{sentence(rng, 2).title()} voorziening {i}"
        facilities.append((uuid.uuid4(), f"voorziening-{i}", name, sentence(rng, 20),
                           KINDS[i % len(KINDS)], THEMES[i % len(THEMES)], None, "[]", "[]",
                           STAGES[i % len(STAGES)], 1, now, now))  # fmt: skip
    for i in range(args.offerings):
        offerings.append((uuid.uuid4(), rng.choice(suppliers)[0], rng.choice(facilities)[0],
                          f"{sentence(rng, 2).title()} {i}", sentence(rng, 4, rare=8), None,
                          rng.choice(PRICE_MODELS), "[]", "[]", 1, now, now))  # fmt: skip
    offerings_by_facility: dict[uuid.UUID, list[uuid.UUID]] = {}
    for o in offerings:
        offerings_by_facility.setdefault(o[2], []).append(o[0])
    usages = []
    pairs = [(m[0], f[0]) for m in municipalities for f in facilities]
    rng.shuffle(pairs)
    today = date.today()
    for municipality_id, facility_id in pairs[: args.usages]:
        start = today - timedelta(days=rng.randint(0, 2000))
        end = today + timedelta(days=rng.randint(-200, 1800))
        choices = offerings_by_facility.get(facility_id) or [None]
        cost = Decimal(rng.randint(1_000, 500_000)) if rng.random() < 0.7 else None
        usages.append((uuid.uuid4(), municipality_id, facility_id, rng.choice(choices), None,
                       rng.choice(STATUSES), start, max(end, start), rng.choice([1, 3, 6, 12]),
                       "50k-215k", cost, 1, now, now))  # fmt: skip
    extra = _catalogue_feature_rows(rng, municipalities, facilities, usages, today, now)
    extra.update(_landscape_rows(rng, offerings, now))
    started = time.perf_counter()
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        pg = raw.driver_connection
        assert pg is not None
        org_cols = ["id", "type", "name", "cbs_code", "oin", "kvk_number", "province",
                    "revision", "created_at", "updated_at"]  # fmt: skip
        await pg.copy_records_to_table(
            "organisations", records=municipalities + suppliers, columns=org_cols
        )
        await pg.copy_records_to_table(
            "facilities", records=facilities,
            columns=["id", "slug", "name", "description", "kind", "theme", "provider_id", "links",
                     "standards", "stage", "revision", "created_at", "updated_at"],
        )  # fmt: skip
        await pg.copy_records_to_table(
            "offerings", records=offerings,
            columns=["id", "supplier_id", "facility_id", "name", "description", "product_url",
                     "price_model", "standards", "certifications", "revision", "created_at",
                     "updated_at"],
        )  # fmt: skip
        await pg.copy_records_to_table(
            "usages", records=usages,
            columns=["id", "municipality_id", "facility_id", "offering_id", "version_id", "status",
                     "start_date", "contract_end_date", "notice_period_months",
                     "contract_value_band", "annual_cost", "revision", "created_at", "updated_at"],
        )  # fmt: skip
        for table, (columns, records) in extra.items():
            await pg.copy_records_to_table(table, records=records, columns=columns)
        await conn.commit()
    # Fresh statistics and visibility map (index-only scans), as autovacuum would leave them.
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return {
        "load_seconds": round(time.perf_counter() - started, 1),
        "facility_ids": [str(f[0]) for f in facilities],
        "offering_ids": [str(o[0]) for o in offerings],
        "counts": {
            "municipalities": len(municipalities),
            "suppliers": len(suppliers),
            "facilities": len(facilities),
            "offerings": len(offerings),
            "usages": len(usages),
            **{table: len(records) for table, (_columns, records) in extra.items()},
        },
    }


def _catalogue_feature_rows(
    rng: random.Random,
    municipalities: list[Any],
    facilities: list[Any],
    usages: list[Any],
    today: date,
    now: datetime,
) -> dict[str, tuple[list[str], list[Any]]]:
    """Rows of the catalogue features (issue 18) in a steady state: synthetic population
    figures (load data, not facts), pledges on the facilities being shaped, and the notice
    alerts an earlier scan would have claimed, so the server's scan at start-up publishes
    nothing and the measured read cache is not invalidated by a burst of announcements."""
    figures = [(m[0], 2024, rng.randint(1_000, 900_000), "bench: synthetic", "bench", now)
               for m in municipalities]  # fmt: skip
    pledges = []
    for facility in facilities:
        if facility[9] not in ("initiative", "pilot", "impact-analysis"):
            continue
        for m in rng.sample(municipalities, rng.randint(0, 30)):
            kind = rng.choice(["interest", "pilot", "co-fund"])
            amount = Decimal(rng.randint(1_000, 100_000)) if kind == "co-fund" else None
            pledges.append((uuid.uuid4(), facility[0], m[0], kind, amount, "", now))
    alerts = []
    for u in usages:
        if u[5] == "ended" or u[7] is None:
            continue
        deadline = notice_deadline(u[7], u[8])
        for threshold in crossed(deadline, today):
            alerts.append(
                (u[0], threshold, deadline, threshold == min(crossed(deadline, today)), now)
            )
    return {
        "population_figures": (
            ["municipality_id", "year", "inhabitants", "source", "loaded_by", "loaded_at"],
            figures,
        ),
        "pledges": (
            ["id", "facility_id", "municipality_id", "kind", "amount", "note", "created_at"],
            pledges,
        ),
        "notice_alerts": (
            ["usage_id", "threshold_days", "notice_deadline", "announced", "at"],
            alerts,
        ),
    }


def _landscape_rows(
    rng: random.Random, offerings: list[Any], now: datetime
) -> dict[str, tuple[list[str], list[Any]]]:
    """Rows of issue 19: integrations from one offering in ten to another, and a
    (fictitious) vulnerability in one offering in twenty. No exposures: the bench's usages
    name no version."""
    integrations, seen = [], set()
    for source in offerings[: len(offerings) // 10]:
        target, kind = rng.choice(offerings)[0], rng.choice(INTEGRATION_KINDS)
        if target == source[0] or (source[0], target, kind) in seen:
            continue
        seen.add((source[0], target, kind))
        integrations.append((uuid.uuid4(), source[0], target, kind, '["ZGW API\'s"]',
                             rng.choice(["planned", "active", "ended"]),
                             rng.choice(["one-way", "two-way"]), "", 1, now, now))  # fmt: skip
    vulnerabilities = [
        (uuid.uuid4(), o[0], f"CVE-2099-{i:05d}", Decimal("7.5"),
         "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "bench: fictitious", None,
         "published", None, 1, now, now)
        for i, o in enumerate(offerings[:: 20])
    ]  # fmt: skip
    return {
        "integrations": (
            ["id", "source_offering_id", "target_offering_id", "kind", "standards", "status",
             "direction", "description", "revision", "created_at", "updated_at"],
            integrations,
        ),
        "vulnerabilities": (
            ["id", "offering_id", "cve_id", "cvss_score", "cvss_vector", "description",
             "fixed_in_version", "status", "withdrawal_reason", "revision", "created_at",
             "updated_at"],
            vulnerabilities,
        ),
    }  # fmt: skip


INTEGRATION_KINDS = ("api", "file-transfer", "digikoppeling", "message-queue", "other")
WRK = os.environ.get("WRK", "/usr/bin/wrk")

# wrk script: each thread walks its own slice of the scenario's URLs (thread k takes
# URLs k, k+T, k+2T, ... and wraps around), sends the bearer token and counts non-200
# answers; done() prints the merged figures as one JSON line.
WRK_LUA = r"""
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  urls = {}
  for line in io.lines(args[1]) do urls[#urls + 1] = line end
  headers = {["Authorization"] = "Bearer " .. args[2]}
  step = tonumber(args[3])
  index = id
  bad = 0
end
function request()
  local path = urls[(index % #urls) + 1]
  index = index + step
  return wrk.format("GET", path, headers)
end
function response(status, hdrs, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non200": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, bad_total, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (0 for those that are gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return found


def drive(
    base: str, token: str, urls: list[str], concurrency: int, seconds: float, workdir: Path
) -> dict[str, Any]:
    """Rotate through ``urls`` with wrk for ``seconds`` over ``concurrency`` connections."""
    threads = max(1, min(2, concurrency))
    url_file = workdir / "urls.txt"
    url_file.write_text("\n".join(urls) + "\n")
    script = workdir / "bench.lua"
    script.write_text(WRK_LUA)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [WRK, "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
         "--timeout", "30s", "-s", str(script), base, "--", str(url_file), token, str(threads)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    w = json.loads(line.removeprefix("WRKJSON "))
    seconds = w["duration_us"] / 1e6
    errors = w["non200"] + w["connect"] + w["read"] + w["write"] + w["timeout"]
    generator_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "requests": w["requests"],
        "errors": errors,
        "throughput_rps": round(w["requests"] / seconds, 1),
        "p50_ms": round(w["p50_us"] / 1000, 1),
        "p95_ms": round(w["p95_us"] / 1000, 1),
        "p99_ms": round(w["p99_us"] / 1000, 1),
        "max_ms": round(w["max_us"] / 1000, 1),
        "seconds": round(seconds, 2),
        "generator_cpu_ms_per_request": round(1000 * generator_cpu / max(1, w["requests"]), 3),
    }


def _share(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.0f} %"


def read_cache_metrics(base: str) -> dict[str, int]:
    """The server's read-cache hits and misses so far and the bytes it holds (/metrics)."""
    text_ = httpx.get(f"{base}/metrics", timeout=10).text
    names = {
        'registry_read_cache_requests_total{result="hit"}': "hit",
        'registry_read_cache_requests_total{result="miss"}': "miss",
        "registry_read_cache_bytes": "bytes",
    }
    found = {"hit": 0, "miss": 0, "bytes": 0}
    for line in text_.splitlines():
        name, _, value = line.rpartition(" ")
        if name in names:
            found[names[name]] = int(float(value))
    return found


def rss_mb(pids: list[int]) -> dict[str, float]:
    """Resident memory of the server, summed over its processes (all workers)."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = round(values[key] + int(rest.split()[0]) / 1024, 1)
    return values


async def database_backends(admin_url: str, url: str) -> list[int]:
    """PIDs of the PostgreSQL backends serving the bench database (local server only)."""
    engine = create_async_engine(admin_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": make_url(url).database},
            )
            return [int(r[0]) for r in rows]
    finally:
        await engine.dispose()


async def existing_data(url: str) -> dict[str, Any]:
    """Ids and counts of an already loaded database (``--database-url``)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            facility_ids = [
                str(r[0]) for r in await conn.execute(text("SELECT id FROM facilities"))
            ]
            offering_ids = [str(r[0]) for r in await conn.execute(text("SELECT id FROM offerings"))]
            counts = {
                "municipalities": (await conn.execute(text(
                    "SELECT count(*) FROM organisations WHERE type = 'municipality'"))).scalar_one(),
                "suppliers": (await conn.execute(text(
                    "SELECT count(*) FROM organisations WHERE type = 'supplier'"))).scalar_one(),
                "facilities": len(facility_ids),
                "offerings": len(offering_ids),
                "usages": (await conn.execute(text("SELECT count(*) FROM usages"))).scalar_one(),
            }  # fmt: skip
    finally:
        await engine.dispose()
    return {"load_seconds": 0.0, "facility_ids": facility_ids, "offering_ids": offering_ids,
            "counts": counts}  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    parser.add_argument("--suppliers", type=int, default=200)
    parser.add_argument("--facilities", type=int, default=240)
    parser.add_argument("--offerings", type=int, default=100_000)
    parser.add_argument("--usages", type=int, default=70_000)
    parser.add_argument(
        "--requests", type=int, default=3000, help="distinct URLs per scenario (rotated)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per scenario")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--read-cache-bytes",
        type=int,
        default=Settings.model_fields["read_cache_bytes"].default,
        help="REGISTRY_READ_CACHE_BYTES (default: the registry's; 0: lists, search and "
        "radar computed for every request)",
    )
    parser.add_argument("--only", action="append", default=[], help="run only this scenario")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument(
        "--load-only", action="store_true", help="load the data, print the URL, keep it"
    )
    parser.add_argument(
        "--database-url", help="use this already loaded database (from --load-only); kept"
    )
    args = parser.parse_args()
    if not Path(WRK).exists():
        sys.exit(f"wrk not found at {WRK} (set WRK=/path/to/wrk)")

    url = args.database_url or await create_database(args.admin_url)
    keep = bool(args.database_url)
    server = None
    jwks_server = None
    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    try:
        if keep:
            data = await existing_data(url)
        else:
            await asyncio.to_thread(upgrade, "registry.migrations", url)
            data = await load_data(url, args)
        print(f"loaded {data['counts']} in {data['load_seconds']} s", flush=True)
        if args.load_only:
            print(f"database kept: {url}")
            keep = True
            return
        issuer = TestIssuer()
        jwks_server, jwks_port = serve_jwks(issuer)
        port = free_port()
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_ENVIRONMENT": "production",
            "REGISTRY_AUTH_ISSUER": issuer.issuer,
            "REGISTRY_AUTH_JWKS_URL": f"http://127.0.0.1:{jwks_port}/jwks",
            "REGISTRY_LOG_LEVEL": "WARNING",
            "REGISTRY_WEBHOOKS_ENABLED": "false",
            "REGISTRY_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
            # Production reads the revocation feed with private_key_jwt (there is no feed
            # here: the per-request check runs on an empty list, as it costs).
            "REGISTRY_AUTH_CLIENT_PRIVATE_KEY_JWK": json.dumps(
                RSAKey.generate_key(2048, private=True).as_dict(private=True)
            ),
            "REGISTRY_READ_CACHE_BYTES": str(args.read_cache_bytes),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "registry", "serve", "--port", str(port),
             "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as probe:
            for _ in range(120):
                try:
                    if (await probe.get(f"{base}/health/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        token = issuer.token(
            sub="bench", scopes=["registry:read", "registry:contracts"], lifetime=7200
        )
        scenarios = scenario_urls(data["facility_ids"], data["offering_ids"], args.requests)
        if args.only:
            scenarios = {k: v for k, v in scenarios.items() if k in args.only}
        # Warm-up: every scenario's statements prepared on every pooled connection.
        for urls in scenarios.values():
            drive(base, token, urls[:100], args.concurrency, 1, workdir)
        server_pids = process_tree(server.pid)
        db_pids = await database_backends(args.admin_url, url)
        results: dict[str, Any] = {}
        for name, urls in scenarios.items():
            server_cpu, db_cpu = cpu_seconds(server_pids), cpu_seconds(db_pids)
            before = read_cache_metrics(base)
            results[name] = drive(base, token, urls, args.concurrency, args.seconds, workdir)
            after = read_cache_metrics(base)
            hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
            results[name]["read_cache_mib_after"] = round(after["bytes"] / 2**20, 1)
            # List, search and radar answers reused while the data is unchanged (readcache.py):
            # how many of this scenario's requests were answered that way.
            # (/metrics is per process: with several workers it is one worker's count.)
            results[name]["read_cache_hit_ratio"] = (
                round(hits / (hits + misses), 3) if hits + misses and args.workers == 1 else None
            )
            done = max(1, results[name]["requests"])
            results[name]["server_cpu_ms_per_request"] = round(
                1000 * (cpu_seconds(server_pids) - server_cpu) / done, 3
            )
            results[name]["db_cpu_ms_per_request"] = round(
                1000 * (cpu_seconds(db_pids) - db_cpu) / done, 3
            )
            # Service time without queueing: the same requests one at a time.
            serial = drive(base, token, urls[:100], 1, min(2.0, args.seconds), workdir)
            results[name]["serial_p50_ms"] = serial["p50_ms"]
            results[name]["serial_p95_ms"] = serial["p95_ms"]
            print(name, results[name], flush=True)
        memory = rss_mb(process_tree(server.pid))
        targets = {name: (100.0 if name == "radar" else 25.0) for name in scenarios}
        load = [round(x, 2) for x in os.getloadavg()]
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": load},
            "data": data["counts"],
            "load_seconds": data["load_seconds"],
            "concurrency": args.concurrency,
            "workers": args.workers,
            "read_cache_bytes": args.read_cache_bytes,
            "load_generator": "wrk (2 threads, keep-alive connections, closed loop)",
            "scenarios": results,
            "targets_p95_ms": targets,
            "met": {name: results[name]["p95_ms"] <= targets[name] for name in scenarios},
            "server_memory_mb": memory,
            "rss_target_mb": 150,
        }
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        lines = [
            f"# Registry benchmark ({report['when']})", "",
            f"Data: {data['counts']}; {args.concurrency} concurrent connections (wrk, 2 "
            f"threads); {args.workers} uvicorn worker(s); read cache "
            f"{args.read_cache_bytes / 2**20:g} MiB; {os.cpu_count()} CPUs shared by "
            f"server, PostgreSQL and load generator; load average at the end {load} (other "
            f"work on the machine included).", "",
            "| scenario | p50 ms | p95 ms | p99 ms | req/s | errors | p95 target | met "
            "| 1 client p50 / p95 ms | CPU ms/request: server / PostgreSQL / wrk "
            "| read cache hits | read cache MiB after |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for name, r in results.items():
            lines.append(f"| {name} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
                         f"{r['throughput_rps']} | {r['errors']} | {targets[name]} | "
                         f"{'yes' if report['met'][name] else 'no'} | "
                         f"{r['serial_p50_ms']} / {r['serial_p95_ms']} | "
                         f"{r['server_cpu_ms_per_request']} / {r['db_cpu_ms_per_request']} / "
                         f"{r['generator_cpu_ms_per_request']} | "
                         f"{_share(r['read_cache_hit_ratio'])} | "
                         f"{r['read_cache_mib_after']} |")  # fmt: skip
        lines += ["", f"Server memory (all processes): {memory} MB (target RSS <= 150 MB)", ""]
        Path(args.out).with_suffix(".md").write_text("\n".join(lines))
        print("\n".join(lines))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if jwks_server is not None:
            jwks_server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
        if url and not keep:
            await drop_database(args.admin_url, url)


if __name__ == "__main__":
    asyncio.run(main())
