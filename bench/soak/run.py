"""`make soak`: mixed traffic through the gateway for a bounded time, loopback only.

    .venv/bin/python bench/soak/run.py [--seconds 180] [--connections 16] [--out FILE]

Starts the platform the way `make run` does (scripts/run.py, free ports on 127.0.0.1, a
temporary data folder, SQLite), then keeps ``--connections`` clients busy through the
gateway until the time is up, each in turn:

- read: a registry list or detail, or the procurement tender list (a cached token);
- grant: a ``client_credentials`` token at ``/auth/token``;
- write: a facility PATCH with ``If-Match`` (the ETag of its previous answer; each
  client first creates its own facility).

It reports the answers by status per kind (anything not 2xx is an error), latency per
kind (p50, p95, p99, max), and the resident memory of every process before and after,
and writes them as Markdown (default ``bench/results/soak.md``). Every request goes to
127.0.0.1; the loops stop at the deadline by themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2ekit import start_platform, stop_platform  # noqa: E402

ADMIN = ("samen-admin", "samen-admin-dev-secret")
# Every soak client is the same one to the gateway, which would answer most requests 429
# (100/s per client by default): the soak is about the services under sustained load, so
# the gateway's limits are raised for it (the report says so).
UNTHROTTLED = {
    "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
    "GATEWAY_RATE_LIMIT_BURST": "1000000",
    "GATEWAY_RATE_LIMIT_ANONYMOUS_PER_SECOND": "1000000",
    "GATEWAY_RATE_LIMIT_ANONYMOUS_BURST": "1000000",
}
READER = ("samen-registry", "samen-registry-dev-secret")


@dataclass
class Tally:
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, status: int, seconds: float) -> None:
        self.statuses[kind][status] += 1
        self.latencies[kind].append(seconds * 1000)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def service_processes(root_pid: int) -> dict[str, int]:
    """The processes scripts/run.py started, by part (from their command lines)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid != root_pid:
            continue
        words = [c.decode(errors="replace") for c in cmd]
        part = next((w for w in words if w in ("identity", "registry", "procurement",
                                                "gateway", "portal")), None)  # fmt: skip
        if part:
            found[part] = int(entry.name)
    return found


async def token(client: httpx.AsyncClient, credentials: tuple[str, str], scope: str) -> str:
    r = await client.post(
        "/auth/token", data={"grant_type": "client_credentials", "scope": scope},
        auth=credentials,
    )  # fmt: skip
    r.raise_for_status()
    return str(r.json()["access_token"])


async def worker(
    n: int, base: str, deadline: float, tally: Tally, read_token: str, write_token: str,
    provider_id: str,
) -> None:  # fmt: skip
    reads = [
        "/api/registry/v1/facilities?pageSize=20",
        "/api/registry/v1/organisations?type=municipality&pageSize=50",
        "/api/registry/v1/search?q=telefonie",
        "/api/procurement/v1/tenders",
    ]
    read_headers = {"Authorization": f"Bearer {read_token}"}
    write_headers = {"Authorization": f"Bearer {write_token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post(
            "/api/registry/v1/facilities",
            json={"slug": f"soak-{n}-{int(time.time())}", "name": f"Soak {n}", "kind": "service",
                  "theme": "soak", "providerId": provider_id},
            headers=write_headers,
        )  # fmt: skip
        tally.add("write", r.status_code, r.elapsed.total_seconds())
        facility = r.json().get("id") if r.status_code == 201 else None
        etag = r.headers.get("etag")
        if facility:
            reads.append(f"/api/registry/v1/facilities/{facility}")
        step = 0
        while time.monotonic() < deadline:
            step += 1
            kind = "write" if step % 10 == 0 else "grant" if step % 10 == 5 else "read"
            try:
                started = time.perf_counter()
                if kind == "read":
                    r = await client.get(reads[step % len(reads)], headers=read_headers)
                elif kind == "grant":
                    r = await client.post(
                        "/auth/token", data={"grant_type": "client_credentials",
                                             "scope": "registry:read"}, auth=READER,
                    )  # fmt: skip
                else:
                    if not facility or not etag:
                        continue
                    r = await client.patch(
                        f"/api/registry/v1/facilities/{facility}",
                        json={"description": f"soak step {step}"},
                        headers={**write_headers, "If-Match": etag},
                    )
                    etag = r.headers.get("etag", etag)
                tally.add(kind, r.status_code, time.perf_counter() - started)
            except httpx.HTTPError as exc:
                tally.failures[f"{kind}: {type(exc).__name__}"] += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(tally: Tally, seconds: float, connections: int, before: dict[str, float | None],
           after: dict[str, float | None], elapsed: float) -> str:  # fmt: skip
    total = sum(sum(c.values()) for c in tally.statuses.values())
    lines = [
        "# Soak: mixed traffic through the gateway",
        "",
        f"Generated by `make soak` (`bench/soak/run.py --seconds {seconds:g} "
        f"--connections {connections}`) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{total} requests in {elapsed:.0f} s ({total / max(elapsed, 1e-9):.0f}/s), SQLite, "
        "every process on 127.0.0.1, the gateway's rate limits raised (all clients are one "
        "client to it), the machine shared with other work (latencies are indicative; "
        "`make bench` is the measurement).",
        "",
        "## Answers by status (anything not 2xx is an error)",
        "",
        "| kind | requests | statuses | errors | target |",
        "|---|---|---|---|---|",
    ]
    for kind in ("read", "grant", "write"):
        counts = tally.statuses.get(kind, Counter())
        errors = sum(v for k, v in counts.items() if not 200 <= k < 300)
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        lines.append(f"| {kind} | {sum(counts.values())} | {shown} | {errors} | errors <= 0 |")
    failures = sum(tally.failures.values())
    lines.append(f"| transport failures | {failures} | - | {failures} | errors <= 0 |")
    if tally.failures:
        lines += ["", "Transport failures: " + ", ".join(f"{k} x{v}" for k, v in
                                                           tally.failures.items())]  # fmt: skip
    else:
        lines += ["", "Transport failures: none."]
    lines += ["", "## Latency per kind (ms)", "", "| kind | p50 | p95 | p99 | max |",
              "|---|---|---|---|---|"]  # fmt: skip
    for kind in ("read", "grant", "write"):
        values = tally.latencies.get(kind, [])
        if values:
            lines.append(
                f"| {kind} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} "
                f"| {percentile(values, 0.99):.1f} | {max(values):.1f} |"
            )
    lines += ["", "## Resident memory (MB)", "", "| process | before | after |", "|---|---|---|"]
    for part in sorted(before):
        b, a = before[part], after.get(part)
        lines.append(f"| {part} | {b or 0:.0f} | {a or 0:.0f} |")
    return "\n".join(lines) + "\n"


async def soak(base: str, seconds: float, connections: int) -> Tally:
    tally = Tally()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        read_token = await token(client, ADMIN, "registry:read procurement:read")
        write_token = await token(client, ADMIN, "registry:read registry:write")
        r = await client.get(
            "/api/registry/v1/organisations", params={"type": "operator"},
            headers={"Authorization": f"Bearer {read_token}"},
        )  # fmt: skip
        r.raise_for_status()
        provider = r.json()["items"][0]["id"]
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(
        worker(n, base, deadline, tally, read_token, write_token, provider)
        for n in range(connections)
    ))  # fmt: skip
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("SOAK_SECONDS", "180")))  # fmt: skip
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.md")
    args = parser.parse_args()
    # A machine busy with other work starts the services slowly; the soak waits for them.
    os.environ.setdefault("SAMEN_START_SECONDS", "300")
    with tempfile.TemporaryDirectory(prefix="samen-soak-") as folder:
        platform, problem = start_platform(Path(folder), {}, settings=UNTHROTTLED)
        try:
            if problem is not None:
                raise SystemExit(f"the platform did not start: {problem}\n{platform.log_tail()}")
            assert platform.process is not None
            processes = service_processes(platform.process.pid)
            before = {part: rss_mb(pid) for part, pid in processes.items()}
            started = time.monotonic()
            tally = asyncio.run(soak(platform.url, args.seconds, args.connections))
            elapsed = time.monotonic() - started
            after = {part: rss_mb(pid) for part, pid in processes.items()}
        finally:
            stop_platform(platform)
    text = report(tally, args.seconds, args.connections, before, after, elapsed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
