"""Identity benchmark: client_credentials grants/s and full code+PKCE logins/s against
the running service on PostgreSQL, with p50/p99 latencies, the server's RSS and the CPU
time every party used (server, PostgreSQL, load generator).

    .venv/bin/python bench/identity/bench.py [--seconds 15] [--concurrency 32] [--workers 2]

Starts its own identity service on a free port with a fresh PostgreSQL database
(BENCH_DATABASE_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres),
seeds it, measures, and writes bench/identity/results.json and results.md (read by
bench/run_all.py). Targets (issue): >= 1000 grants/s, >= 150 logins/s, RSS <= 150 MB on
a 2-core machine where server, database and load generator share the cores.

Load generators (chosen to take little CPU from the server they measure):

- grants: ``wrk`` (C, epoll) with a Lua script. For private_key_jwt every request needs
  a distinct signed assertion (each ``jti`` is single use), so they are signed before
  the timed window (in parallel processes) and the Lua script sends one per request.
- logins: an aiohttp client in this process, one new "browser" (own cookies) per login,
  7 HTTP requests each: authorize → login page → choose DigiD → simulator page →
  simulator POST → callback → token exchange (client_secret_basic).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt

from identity.config import Settings
from identity.seed import demo_key, seed
from servicekit.testing import fresh_database_url, migrated_database

HERE = Path(__file__).parent
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TICK = os.sysconf("SC_CLK_TCK")
WRK = shutil.which("wrk") or "/usr/bin/wrk"
# Assertions signed per grant/s of the rate bound and second of the run: the margin
# covers a machine that is quieter during the private_key_jwt run than when the bound
# was measured.
ASSERTION_MARGIN = 1.5

# ------------------------------------------------------------------ wrk scripts

# Shared by both grant scripts. Non-200 answers are counted by status, and the
# service's refusals of a reused assertion (401 "already used") apart from them: each
# assertion is sent once, so any means the generator reused one or the service took a
# fresh one for a replay. Each thread counts its own; done() adds them up.
WRK_COUNTS = r"""
local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end
statuses = {}
refused = 0
sent = 0
exhausted = 0
response = function(status, headers, body)
  if status ~= 200 then
    if status == 401 and body:find("already used", 1, true) then
      refused = refused + 1
    else
      statuses[status] = (statuses[status] or 0) + 1
    end
  end
end
done = function(summary, latency, requests)
  local total = {}
  local refused_all, sent_all, exhausted_all = 0, 0, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
    refused_all = refused_all + thread:get("refused")
    sent_all = sent_all + thread:get("sent")
    exhausted_all = exhausted_all + thread:get("exhausted")
  end
  local parts = {}
  for status, n in pairs(total) do
    parts[#parts + 1] = string.format('"%d":%d', status, n)
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"statuses":{%s},' ..
    '"refused":%d,"sent":%d,"exhausted_threads":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ","),
    refused_all, sent_all, exhausted_all))
end
"""

WRK_BASIC = (
    r"""
wrk.method = "POST"
wrk.path = "/auth/token"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "AUTHORIZATION"
"""
    + WRK_COUNTS
)

# Each thread reads its own slice of the pre-signed bodies (one line each) and sends
# every body once. Out of bodies, the thread sends nothing more and stops (a replay
# would only be refused): the bench signs more than it can send, and reports it if not.
WRK_ASSERTIONS = (
    r"""
wrk.method = "POST"
wrk.path = "/auth/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
init = function(args)
  local nthreads = tonumber(args[2])
  bodies = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid - 1 then bodies[#bodies + 1] = line end
    i = i + 1
  end
end
request = function()
  if sent >= #bodies then
    exhausted = 1
    wrk.thread:stop()
    return ""
  end
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[sent])
end
"""
    + WRK_COUNTS
)


# ------------------------------------------------------------------ measuring helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """A process and its children (uvicorn's supervisor and its workers)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return pids


def rss_mb(pid: int) -> float:
    """RSS of a process and its children (uvicorn workers), in MB."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def postgres_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


class CpuMeter:
    """CPU seconds used by server, PostgreSQL and the load generator over one scenario."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> CpuMeter:
        self.server_pids = process_tree(self.server_pid)
        self.server0 = cpu_seconds(self.server_pids)
        self.pg0 = {p: cpu_seconds([p]) for p in postgres_pids()}
        self.self0 = time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children0 = children.ru_utime + children.ru_stime
        self.busy0, self.total0 = machine_busy()
        self.wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.server = cpu_seconds(self.server_pids) - self.server0
        # PostgreSQL backends come and go; new ones (pool connections) count from zero.
        self.postgres = sum(cpu_seconds([p]) - self.pg0.get(p, 0.0) for p in postgres_pids())
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        # wrk is a waited-for child; the aiohttp generator runs in this process.
        self.generator = (children.ru_utime + children.ru_stime - self.children0) + (
            time.process_time() - self.self0
        )
        busy, total = machine_busy()
        self.machine_busy = (busy - self.busy0) / max(1, total - self.total0)

    def figures(self, count: int) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        return {
            "cpu_seconds": {
                "server": round(self.server, 2),
                "postgres": round(self.postgres, 2),
                "generator": round(self.generator, 2),
                "wall": round(self.wall, 2),
            },
            # Share of the machine's CPU capacity (cores x wall time) each party used.
            "cpu_share": {
                "server": round(self.server / (self.wall * cores), 3),
                "postgres": round(self.postgres / (self.wall * cores), 3),
                "generator": round(self.generator / (self.wall * cores), 3),
                "machine_busy": round(self.machine_busy, 3),
            },
            "server_cpu_ms_per_op": round(1000 * self.server / count, 3) if count else None,
        }


def summary(latencies: list[float], seconds: float, errors: int) -> dict[str, Any]:
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0] if lat else 0.0] * 99
    return {
        "count": len(lat),
        "errors": errors,
        "per_second": round(len(lat) / seconds, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
    }


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ------------------------------------------------------------------ grants (wrk)


def _sign_assertions(args: tuple[str, int, int]) -> list[str]:
    token_url, count, exp = args
    key = demo_key()
    now = int(time.time())
    header = {"alg": "RS256", "kid": key.kid}
    out = []
    for _ in range(count):
        claims = {
            "iss": "demo-system",
            "sub": "demo-system",
            "aud": token_url,
            "jti": generate_token(20),
            "iat": now,
            "exp": exp,
        }
        assertion = jwt.encode(header, claims, key)
        out.append(
            "grant_type=client_credentials&client_assertion_type="
            + quote(ASSERTION_TYPE, safe="")
            + "&client_assertion="
            + assertion
        )
    return out


def sign_assertions(token_url: str, count: int) -> list[str]:
    """``count`` distinct private_key_jwt bodies, signed in parallel before the run."""
    exp = int(time.time()) + 1800
    procs = os.cpu_count() or 1
    chunks = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    with ProcessPoolExecutor(procs) as pool:
        parts = pool.map(_sign_assertions, [(token_url, n, exp) for n in chunks if n])
    return [body for part in parts for body in part]


def run_wrk(
    base: str, seconds: float, concurrency: int, threads: int, script: str, args: list[str]
) -> tuple[dict[str, Any], float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        command = [
            WRK,
            f"-t{threads}",
            f"-c{max(concurrency, threads)}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            path,
            base + "/auth/token",
        ]
        if args:
            command += ["--", *args]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    finally:
        os.unlink(path)
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[8:]), elapsed
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")


def grants(
    base: str,
    pid: int,
    seconds: float,
    concurrency: int,
    threads: int,
    method: str,
    rate_bound: float = 0.0,
) -> dict[str, Any]:
    """One grant scenario under wrk. For private_key_jwt, ``rate_bound`` is a rate the
    server will not exceed (grants/s); enough assertions for it are signed beforehand."""
    extra: dict[str, Any] = {}
    if method == "client_secret_basic":
        script = WRK_BASIC.replace("AUTHORIZATION", basic("samen-admin", "samen-admin-dev-secret"))
        args: list[str] = []
        tmp = None
    else:
        count = math.ceil(seconds * rate_bound * ASSERTION_MARGIN) + 1000
        started = time.perf_counter()
        bodies = sign_assertions(base + "/auth/token", count)
        extra["assertions_rate_bound"] = round(rate_bound, 1)
        extra["assertions_signed"] = count
        extra["assertions_signing_seconds"] = round(time.perf_counter() - started, 1)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(bodies) + "\n")
            tmp = f.name
        script = WRK_ASSERTIONS
        args = [tmp, str(threads)]
    try:
        with CpuMeter(pid) as meter:
            raw, _elapsed = run_wrk(base, seconds, concurrency, threads, script, args)
    finally:
        if tmp:
            os.unlink(tmp)
    seconds_run = raw["duration_us"] / 1e6
    statuses = {int(k): v for k, v in sorted(raw["statuses"].items(), key=lambda i: int(i[0]))}
    failed = sum(statuses.values())
    errors = failed + raw["timeout"] + raw["connect"] + raw["read"] + raw["write"]
    ok = max(0, raw["requests"] - failed - raw["refused"] - raw["timeout"])
    if method != "client_secret_basic":
        extra["assertions_sent"] = raw["sent"]
        # wrk still runs its whole duration after a thread stopped, so the rate of a run
        # that ran out is understated.
        extra["assertions_exhausted"] = raw["exhausted_threads"] > 0
    return {
        "count": ok,
        "errors": errors,
        "refused_replays": raw["refused"],
        "error_statuses": statuses,
        "per_second": round(ok / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "generator": f"wrk -t{threads} -c{concurrency}",
        **extra,
        **meter.figures(ok),
    }


# ------------------------------------------------------------------ logins (aiohttp)


def path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


async def logins(base: str, pid: int, seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    token_auth = basic("demo-gemeente", "demo-gemeente-dev-secret")
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        base, connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:

        async def one() -> bool:
            # A fresh browser per login: its own cookies, no session to reuse.
            cookies: dict[str, str] = {}

            def jar() -> dict[str, str]:
                return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}

            def keep(r: aiohttp.ClientResponse) -> None:
                for name, morsel in r.cookies.items():
                    cookies[name] = morsel.value

            async def get(url: str) -> tuple[int, str, str]:
                async with http.get(url, headers=jar(), allow_redirects=False) as r:
                    keep(r)
                    return r.status, r.headers.get("location", ""), await r.text()

            async def post(url: str, data: dict[str, str]) -> tuple[int, str, str]:
                async with http.post(
                    url,
                    data=urlencode(data),
                    headers={**form_type, **jar()},
                    allow_redirects=False,
                ) as r:
                    keep(r)
                    return r.status, r.headers.get("location", ""), await r.text()

            verifier = generate_token(48)
            params = {
                "response_type": "code",
                "client_id": "demo-gemeente",
                "redirect_uri": "http://127.0.0.1:8080/callback",
                "scope": "openid profile",
                "state": generate_token(16),
                "nonce": generate_token(16),
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
            _, location, _ = await get("/auth/authorize?" + urlencode(params))
            _, _, page = await get(path(location))
            fields = dict(HIDDEN.findall(page))
            _, location, _ = await post("/auth/login", {**fields, "means": "digid"})
            _, _, page = await get(path(location))
            fields = {k: v.replace("&amp;", "&") for k, v in HIDDEN.findall(page)}
            _, location, _ = await post(
                "/auth/simulators/digid/authorize",
                {
                    **fields,
                    "identity": "digid-jan",
                    "level": "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
                    "action": "login",
                },
            )
            _, location, _ = await get(path(location))
            query = dict(p.split("=", 1) for p in urlsplit(location).query.split("&"))
            async with http.post(
                "/auth/token",
                data=urlencode(
                    {
                        "grant_type": "authorization_code",
                        "code": query["code"],
                        "redirect_uri": "http://127.0.0.1:8080/callback",
                        "code_verifier": verifier,
                    }
                ),
                headers={**form_type, "Authorization": token_auth},
            ) as r:
                return r.status == 200 and "id_token" in await r.json()

        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    ok = await one()
                except (TimeoutError, aiohttp.ClientError, KeyError, ValueError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1

        with CpuMeter(pid) as meter:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    result = summary(latencies, meter.wall, errors)
    return {
        **result,
        "generator": f"aiohttp, {concurrency} concurrent browsers, 7 requests per login",
        **meter.figures(result["count"]),
    }


# ------------------------------------------------------------------ main


async def wait_ready(base: str) -> None:
    async with aiohttp.ClientSession(base) as http:
        for _ in range(600):
            try:
                async with http.get("/health/ready") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the identity service did not become ready")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--login-concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="run the server (1 worker) under cProfile and write its stats here; "
        "results files are not written",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=["basic", "jwt", "login"],
        help="run only these scenarios (default: all)",
    )
    args = parser.parse_args()
    base_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    os.environ["TEST_DATABASE_URL"] = base_url
    async with fresh_database_url("identity_bench", HERE) as url:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        database = await migrated_database("identity.migrations", url)
        await seed(Settings(database_url=url, issuer=base), database)
        await database.dispose()
        env = {
            **os.environ,
            "IDENTITY_DATABASE_URL": url,
            "IDENTITY_ISSUER": base,
            "IDENTITY_ENVIRONMENT": "test",
            "IDENTITY_LOG_LEVEL": "WARNING",
            # No OTLP collector here: spans are still created (instrumentation on),
            # just not exported.
            "OTEL_SDK_DISABLED": "true",
            "PYTHONWARNINGS": "ignore",
        }
        profiler = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        proc = subprocess.Popen(
            [
                sys.executable,
                *profiler,
                "-m",
                "identity",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            await wait_ready(base)
            # Warm up: pools, caches, every worker's first requests.
            grants(base, proc.pid, 2, 8, 1, "client_secret_basic")
            await logins(base, proc.pid, 1, 2)
            load_before = os.getloadavg()
            wanted = set(args.scenario or ["basic", "jwt", "login"])
            basic_result = jwt_result = login_result = {}
            if "basic" in wanted:
                basic_result = grants(
                    base, proc.pid, args.seconds, args.concurrency, args.wrk_threads,
                    "client_secret_basic",
                )  # fmt: skip
                print("client_secret_basic", json.dumps(basic_result))
            if "jwt" in wanted:
                # A client_secret_basic grant costs the server less than a private_key_jwt
                # one (the same token, but no assertion to verify and no jti to record),
                # so its rate bounds how many assertions the run can use; measured
                # briefly here when that scenario was not run.
                rate_bound = basic_result.get("per_second") or grants(
                    base, proc.pid, 3, args.concurrency, args.wrk_threads,
                    "client_secret_basic",
                )["per_second"]  # fmt: skip
                jwt_result = grants(
                    base, proc.pid, args.seconds, args.concurrency, args.wrk_threads,
                    "private_key_jwt", rate_bound,
                )  # fmt: skip
                print("private_key_jwt", json.dumps(jwt_result))
            if "login" in wanted:
                login_result = await logins(base, proc.pid, args.seconds, args.login_concurrency)
                print("logins", json.dumps(login_result))
            results: dict[str, Any] = {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()],
                },
                "settings": vars(args),
                "client_credentials_secret_basic": basic_result,
                "client_credentials_private_key_jwt": jwt_result,
                "logins_code_pkce_digid_simulator": login_result,
                "server_rss_mb": round(rss_mb(proc.pid), 1),
                "server_processes": len(process_tree(proc.pid)),
                "targets": {"grants_per_second": 1000, "logins_per_second": 150, "rss_mb": 150},
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        finally:
            # uvicorn re-raises the signal after its graceful shutdown: SIGINT becomes a
            # KeyboardInterrupt, after which cProfile still writes its stats.
            proc.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
            proc.wait(timeout=60)
    if args.profile or args.scenario:
        return  # a partial or profiled run is not a result
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Identity benchmark results",
        "",
        f"Measured {results['measured_at']} on {results['machine']['cpus']} CPUs, "
        f"load average before {results['machine']['load_before']}; {args.workers} uvicorn "
        f"worker(s), PostgreSQL; {args.seconds:g} s per scenario.",
        "",
        "| scenario | per second | p50 ms | p99 ms | errors | refused replays "
        "| server CPU ms/op | CPU share server / postgres / generator / machine busy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in (
        "client_credentials_secret_basic",
        "client_credentials_private_key_jwt",
        "logins_code_pkce_digid_simulator",
    ):
        r = results[name]
        s = r["cpu_share"]
        statuses = ", ".join(f"{k}: {v}" for k, v in r.get("error_statuses", {}).items())
        errors = f"{r['errors']} ({statuses})" if statuses else r["errors"]
        lines.append(
            f"| {name} | {r['per_second']} | {r['p50_ms']} | {r['p99_ms']} | {errors} "
            f"| {r.get('refused_replays', '-')} | {r['server_cpu_ms_per_op']} "
            f"| {s['server']:.0%} / {s['postgres']:.0%} / {s['generator']:.0%} "
            f"/ {s['machine_busy']:.0%} |"
        )
    jwt = results["client_credentials_private_key_jwt"]
    lines += [
        "",
        f"private_key_jwt: {jwt['assertions_sent']} of {jwt['assertions_signed']} assertions "
        f"sent (signed for {jwt['assertions_rate_bound']} grants/s x {ASSERTION_MARGIN}, "
        f"in {jwt['assertions_signing_seconds']} s before the run)"
        + (
            "; **they ran out**: the generator stopped early, the rate is understated."
            if jwt["assertions_exhausted"]
            else "."
        ),
        "Errors: non-200 answers (by status) and socket errors or timeouts. Refused replays: "
        "401 for a reused assertion; each is sent once, so none is expected.",
        "",
        f"Server RSS (all {results['server_processes']} processes): {results['server_rss_mb']} MB.",
        "",
        "CPU share: CPU seconds / (cores x wall seconds). Generators: "
        f"{results['client_credentials_secret_basic']['generator']} (grants), "
        f"{results['logins_code_pkce_digid_simulator']['generator']}.",
        "",
    ]
    (HERE / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
