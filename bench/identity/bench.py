"""Identity benchmark: client_credentials grants/s and full code+PKCE logins/s against
the running service on PostgreSQL, with p50/p99 latencies and the server's RSS.

    .venv/bin/python bench/identity/bench.py [--seconds 15] [--concurrency 32] [--workers 2]

Starts its own identity service on a free port with a fresh PostgreSQL database
(BENCH_DATABASE_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres),
seeds it, measures, and writes bench/identity/results-<workers>w.json and .md.
Targets (issue): >= 1000 grants/s, >= 150 logins/s, RSS <= 150 MB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt

from identity.config import Settings
from identity.seed import demo_key, seed
from servicekit.testing import fresh_database_url, migrated_database

HERE = Path(__file__).parent
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """RSS of a process and its children (uvicorn workers), in MB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


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


async def run_for(seconds: float, concurrency: int, one: Any) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                ok = await one()
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def grants(base: str, seconds: float, concurrency: int, method: str) -> dict[str, Any]:
    key = demo_key()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

        async def one() -> bool:
            if method == "client_secret_basic":
                r = await http.post(
                    "/auth/token",
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": basic("samen-admin", "samen-admin-dev-secret")},
                )
            else:
                now = int(time.time())
                assertion = jwt.encode(
                    {"alg": "RS256", "kid": key.kid},
                    {
                        "iss": "demo-system",
                        "sub": "demo-system",
                        "aud": f"{base}/auth/token",
                        "jti": generate_token(20),
                        "iat": now,
                        "exp": now + 60,
                    },
                    key,
                )
                r = await http.post(
                    "/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": assertion,
                    },
                )
            return r.status_code == 200

        latencies, errors, elapsed = await run_for(seconds, concurrency, one)
    return summary(latencies, elapsed, errors)


def path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


async def logins(base: str, seconds: float, concurrency: int) -> dict[str, Any]:
    async def one() -> bool:
        # A fresh browser per login (no session reuse): the full broker path.
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
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
            r = await http.get("/auth/authorize?" + urlencode(params))
            page = await http.get(path(r.headers["location"]))
            fields = dict(HIDDEN.findall(page.text))
            r = await http.post("/auth/login", data={**fields, "means": "digid"})
            page = await http.get(path(r.headers["location"]))
            fields = {k: v.replace("&amp;", "&") for k, v in HIDDEN.findall(page.text)}
            r = await http.post(
                "/auth/simulators/digid/authorize",
                data={
                    **fields,
                    "identity": "digid-jan",
                    "level": "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
                    "action": "login",
                },
            )
            r = await http.get(path(r.headers["location"]))
            code = dict(p.split("=", 1) for p in urlsplit(r.headers["location"]).query.split("&"))[
                "code"
            ]
            r = await http.post(
                "/auth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": "http://127.0.0.1:8080/callback",
                    "code_verifier": verifier,
                },
                headers={"Authorization": basic("demo-gemeente", "demo-gemeente-dev-secret")},
            )
            return r.status_code == 200 and "id_token" in r.json()

    latencies, errors, elapsed = await run_for(seconds, concurrency, one)
    return summary(latencies, elapsed, errors)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--login-concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
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
            "OTEL_SDK_DISABLED": "true",
            "PYTHONWARNINGS": "ignore",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
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
            async with httpx.AsyncClient(base_url=base) as http:
                for _ in range(600):
                    try:
                        if (await http.get("/health/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            # Warm up (JIT-free Python, but caches, pools and connections).
            await grants(base, 2, 8, "client_secret_basic")
            results: dict[str, Any] = {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_before": os.getloadavg(),
                },
                "settings": vars(args),
                "client_credentials_secret_basic": await grants(
                    base, args.seconds, args.concurrency, "client_secret_basic"
                ),
                "client_credentials_private_key_jwt": await grants(
                    base, args.seconds, args.concurrency, "private_key_jwt"
                ),
                "logins_code_pkce_digid_simulator": await logins(
                    base, args.seconds, args.login_concurrency
                ),
                "server_rss_mb": round(rss_mb(proc.pid), 1),
                "targets": {"grants_per_second": 1000, "logins_per_second": 150, "rss_mb": 150},
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    (HERE / f"results-{args.workers}w.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Identity benchmark results",
        "",
        f"Measured {results['measured_at']} on {results['machine']['cpus']} CPUs, "
        f"load average before {results['machine']['load_before']}; {args.workers} uvicorn workers, PostgreSQL.",
        "",
        "| scenario | per second | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|",
    ]
    for name in (
        "client_credentials_secret_basic",
        "client_credentials_private_key_jwt",
        "logins_code_pkce_digid_simulator",
    ):
        r = results[name]
        lines.append(
            f"| {name} | {r['per_second']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |"
        )
    lines += ["", f"Server RSS (all workers): {results['server_rss_mb']} MB.", ""]
    (HERE / f"results-{args.workers}w.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
