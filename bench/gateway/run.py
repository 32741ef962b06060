"""Gateway benchmark: the same registry endpoint called directly, through nginx, and
through the gateway (valid token, tracing and rate limiting on with a high limit).

Everything runs on this machine, on free loopback ports, started and stopped here:
a JWKS file server (the token issuer's keys), the registry (SQLite, migrated and seeded),
nginx (Debian package, generated config) and the gateway. Load comes from ``wrk`` (Debian
package) with one thread; every run is bounded in time.

    .venv/bin/python bench/gateway/run.py [--duration 10] [--connections 32] [--rounds 2]

Writes ``bench/results/gateway.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from joserfc.jwk import RSAKey

from servicekit.testing import TestIssuer

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
RESULTS = ROOT / "bench" / "results" / "gateway.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0, headers=headers).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Result:
    target: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU time the proxy process(es) spent per request (None for direct calls): less
    # sensitive than throughput to other work on a shared machine.
    cpu_us: float | None = None


def _ms(value: str) -> float:
    """wrk's latency (``850.00us``, ``1.23ms``, ``1.20s``, ``2.00m``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(target: str, url: str, token: str, connections: int, duration: int) -> Result:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "5s",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return Result(target, connections, rps, p50, p99, errors)


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream registry {{
        server 127.0.0.1:{registry_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /api/registry/v1/ {{
            proxy_pass http://registry/v1/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


STATIC_APP = """
BODY = (b'{"id":"e9a63380-bb53-4d59-ad82-0ef64dea756e","type":"municipality",'
        b'"name":"Gemeente Utrecht","cbsCode":"GM0344","oin":"00000001002220647000",'
        b'"kvkNumber":null,"province":"Utrecht","memberIds":[]}')
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its direct children (nginx's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process, MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is missing: apt-get install -y {tool}")
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))
    procs: list[subprocess.Popen[bytes]] = []
    issuer = TestIssuer(issuer="http://127.0.0.1:8000")
    token = issuer.token(scopes=["registry:read"], lifetime=3600, azp="bench-client")

    def spawn(cmd: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=open(tmp / log, "wb"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    try:
        # The issuer's keys, served where the registry and the gateway fetch them.
        (tmp / "www" / "auth").mkdir(parents=True)
        (tmp / "www" / "auth" / "jwks").write_text(json.dumps(issuer.jwks()))
        jwks_port = free_port()
        spawn(
            [
                PY,
                "-m",
                "http.server",
                str(jwks_port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(tmp / "www"),
            ],
            {},
            "jwks.log",
        )
        jwks_url = f"http://127.0.0.1:{jwks_port}/auth/jwks"
        wait_http(jwks_url)

        registry_port = free_port()
        common = {"AUTH_JWKS_URL": jwks_url, "AUTH_ISSUER": issuer.issuer, "LOG_LEVEL": "WARNING"}
        registry_env = {f"REGISTRY_{k}": v for k, v in common.items()}
        registry_env["REGISTRY_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / 'registry.db'}"
        registry_env["REGISTRY_ENVIRONMENT"] = "production"  # no migrations at start-up
        # Production refuses the development webhook key: a throw-away one for this run.
        registry_env["REGISTRY_WEBHOOK_SECRET_KEY"] = Fernet.generate_key().decode()
        # ... and a revocation-feed client without its private key.
        registry_env["REGISTRY_AUTH_CLIENT_PRIVATE_KEY_JWK"] = json.dumps(
            RSAKey.generate_key(2048, private=True).as_dict(private=True)
        )
        registry_env["OTEL_SDK_DISABLED"] = "true"
        subprocess.run(
            [PY, "-m", "registry", "migrate"],
            env={**os.environ, **registry_env},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [PY, "-m", "registry", "seed"],
            env={**os.environ, **registry_env},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        spawn(
            [PY, "-m", "registry", "serve", "--port", str(registry_port)],
            registry_env,
            "registry.log",
        )
        direct_base = f"http://127.0.0.1:{registry_port}"
        auth = {"Authorization": f"Bearer {token}"}
        wait_http(f"{direct_base}/health/live")
        listing = httpx.get(f"{direct_base}/v1/organisations?pageSize=1", headers=auth, timeout=10)
        listing.raise_for_status()
        org_id = listing.json()["items"][0]["id"]
        path = f"/v1/organisations/{org_id}"

        static_port = free_port()
        (tmp / "static_upstream.py").write_text(STATIC_APP)
        spawn(
            [
                PY,
                "-m",
                "uvicorn",
                "static_upstream:app",
                "--app-dir",
                str(tmp),
                "--port",
                str(static_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            {},
            "static.log",
        )
        static_base = f"http://127.0.0.1:{static_port}"
        wait_http(f"{static_base}/v1/x")

        def measure(
            upstream_base: str,
        ) -> tuple[dict[tuple[str, int], Result], tuple[float, float]]:
            nginx_port = free_port()
            conf = tmp / f"nginx-{nginx_port}.conf"
            conf.write_text(
                NGINX_CONF.format(
                    tmp=tmp, registry_port=upstream_base.rsplit(":", 1)[1], port=nginx_port
                )
            )
            nginx = spawn(
                [nginx_bin, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"], {}, "nginx.log"
            )
            gateway_port = free_port()
            gateway_env = {f"GATEWAY_{k}": v for k, v in common.items()}
            gateway_env.update(
                {
                    "GATEWAY_REGISTRY_URL": upstream_base,
                    "GATEWAY_RATE_LIMIT_ENABLED": "true",
                    "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
                    "GATEWAY_RATE_LIMIT_BURST": "1000000",
                    "GATEWAY_REDIS_URL": "",
                }
            )
            gateway = spawn(
                [PY, "-m", "gateway", "serve", "--port", str(gateway_port)],
                gateway_env,
                "gateway.log",
            )
            targets = {
                "direct": f"{upstream_base}{path}",
                "nginx": f"http://127.0.0.1:{nginx_port}/api/registry{path}",
                "gateway": f"http://127.0.0.1:{gateway_port}/api/registry{path}",
            }
            for url in targets.values():
                wait_http(url, headers=auth)
                response = httpx.get(url, headers=auth, timeout=10)
                assert response.status_code == 200, (url, response.status_code, response.text)
            results: dict[tuple[str, int], Result] = {}
            for _round in range(args.rounds):
                for connections in (1, args.connections):
                    for name, url in targets.items():
                        wrk(name, url, token, connections, 2)  # warm-up
                        proxy = {"nginx": nginx.pid, "gateway": gateway.pid}.get(name)
                        cpu_before = cpu_seconds(proxy) if proxy else 0.0
                        result = wrk(name, url, token, connections, args.duration)
                        if proxy:
                            used = cpu_seconds(proxy) - cpu_before
                            result.cpu_us = used / max(1.0, result.rps * args.duration) * 1e6
                        print(
                            f"{name:8s} c={connections:<3d} {result.rps:9.1f} req/s  p50 {result.p50_ms:.2f} ms"
                            f"  p99 {result.p99_ms:.2f} ms  errors {result.errors}  cpu/req {result.cpu_us}",
                            flush=True,
                        )
                        best = results.get((name, connections))
                        if best is None or result.rps > best.rps:
                            results[(name, connections)] = result
            memory = rss_mb(gateway.pid)
            for proc in (gateway, nginx):
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
            return results, memory

        print("registry endpoint", flush=True)
        registry_results, registry_memory = measure(direct_base)
        print("static upstream", flush=True)
        static_results, _static_memory = measure(static_base)
        write_report(registry_results, static_results, args, registry_memory, path)
        print(RESULTS.read_text())
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def table(results: dict[tuple[str, int], Result]) -> list[str]:
    lines = [
        "| target | connections | req/s | p50 ms | p99 ms | errors | proxy CPU per request |",
        "|---|---|---|---|---|---|---|",
    ]
    for (name, conns), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cpu = f"{r.cpu_us:.0f} us" if r.cpu_us is not None else "-"
        lines.append(
            f"| {name} | {conns} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {cpu} |"
        )
    return lines


def measures(results: dict[tuple[str, int], Result], c: int, targets: bool = True) -> list[str]:
    """The comparison rows; ``targets`` False for a measurement the issue sets no target
    for (the static upstream), so the report and run_all do not score it."""
    nginx, gw, direct = results[("nginx", c)], results[("gateway", c)], results[("direct", c)]
    ratio = gw.rps / nginx.rps
    added = results[("gateway", 1)].p50_ms - results[("direct", 1)].p50_ms
    added_nginx = results[("nginx", 1)].p50_ms - results[("direct", 1)].p50_ms

    def scored(target: str, met: bool) -> str:
        return f"{target} | {'yes' if met else 'no'}" if targets else " | "

    return [
        "| measure | value | target | met |",
        "|---|---|---|---|",
        f"| gateway / nginx throughput ({c} connections) | {ratio:.2f}x | "
        f"{scored('>= 0.9x', ratio >= 0.9)} |",
        f"| gateway / direct throughput ({c} connections) | {gw.rps / direct.rps:.2f}x | | |",
        f"| nginx / direct throughput ({c} connections) | {nginx.rps / direct.rps:.2f}x | | |",
        f"| added p50 at 1 connection (gateway - direct) | {added:.2f} ms | "
        f"{scored('<= 1 ms', added <= 1.0)} |",
        f"| added p50 at 1 connection (nginx - direct) | {added_nginx:.2f} ms | | |",
        f"| proxy CPU per request at {c} connections, gateway / nginx | "
        f"{(gw.cpu_us or 0):.0f} us / {(nginx.cpu_us or 0):.0f} us | | |",
    ]


def write_report(
    results: dict[tuple[str, int], Result],
    static: dict[tuple[str, int], Result],
    args: argparse.Namespace,
    memory: tuple[float, float],
    path: str,
) -> None:
    rss, peak = memory
    c = args.connections
    lines = [
        "# Gateway benchmark",
        "",
        f"Generated by `bench/gateway/run.py` on {time.strftime('%Y-%m-%d %H:%M')} "
        f"({os.cpu_count()} cores; the machine is shared with other work, so the numbers "
        "are noisy: rerun before drawing fine conclusions).",
        "",
        "Gateway: `python -m gateway serve` (one uvicorn worker, uvloop, httptools), pooled "
        "keep-alive upstream connections (one aiohttp session per upstream), bearer-token verification and scope check "
        "(verified tokens cached while their key set is unchanged, see gateway/README.md), in-memory rate limiting "
        "on (limit set high), a server and a client span per request (OpenTelemetry SDK, no exporter "
        "configured). nginx: Debian package, one worker, upstream keep-alive, generated "
        f"config. Load: `wrk -t1`, {args.duration} s per run after a 2 s warm-up, best of "
        f"{args.rounds} rounds; every request carries a valid bearer token.",
        "",
        f"## The registry endpoint: `GET {path}`",
        "",
        "The real registry (SQLite, migrated and seeded), which verifies the token itself.",
        "",
        *table(results),
        "",
        *measures(results, c),
        f"| gateway RSS after the runs (peak) | {rss:.0f} MiB ({peak:.0f} MiB) | <= 120 MB | "
        f"{'yes' if peak * 1.048576 <= 120 else 'no'} |",
        "",
        "## Pure proxy overhead: a static upstream",
        "",
        "The same path answered by a minimal ASGI app (a fixed JSON body, no work), so the "
        "proxy's own cost is what is measured. Not a target of the issue; it shows where "
        "the gateway stands against nginx when the upstream costs nothing.",
        "",
        *table(static),
        "",
        *measures(static, c, targets=False),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
