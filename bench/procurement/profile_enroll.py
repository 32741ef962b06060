"""In-process CPU profile of procurement's enrollment POST, demand and OCDS export.

    .venv/bin/python bench/procurement/profile_enroll.py [--db sqlite|postgresql] [--n 342]
        [--top 40] [--only enroll|ocds|demand]

Builds the real app (``create_app``, production settings, real RS256 token verification
through servicekit) on a fresh database, answers the registry and token endpoint from an
in-process ``httpx.MockTransport`` and calls the ASGI app directly (no HTTP client, no
sockets), so the CPU time reported is the service's own work per request plus the
registry client's. Each municipality submits twice with one Idempotency-Key (the second
one is a replay), like the burst benchmark. CPU time is process time, so it does not
depend much on other load on the machine; the cProfile listing shows where it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import FakeUpstreams, municipalities, tender_body

from procurement.config import Settings
from procurement.db import load_models
from procurement.main import create_app, database_for
from servicekit.migrations import upgrade
from servicekit.testing import TestIssuer, _asyncpg_url

LEAD_OIN = "00000003273237580000"


def registry_transport(up: FakeUpstreams) -> httpx.MockTransport:
    by_oin = {o["oin"]: o for o in up.organisations}
    by_id = {o["id"]: o for o in up.organisations}

    def handle(request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path.endswith("/auth/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        if path.startswith("/v1/facilities/"):
            return httpx.Response(200, json=up.facility)
        if path.startswith("/v1/organisations/"):
            org = by_id.get(path.rsplit("/", 1)[1])
            return httpx.Response(200 if org else 404, json=org or {})
        if path == "/v1/organisations":
            if params.get("oin"):
                org = by_oin.get(params["oin"])
                items = [org] if org else []
            else:
                items = [o for o in up.organisations if o["type"] == params.get("type")]
            page, size = int(params.get("page", 1)), int(params.get("pageSize", 20))
            chunk = items[(page - 1) * size : page * size]
            return httpx.Response(200, json={"items": chunk, "total": len(items)})
        if path == "/v1/usages":
            if params.get("municipalityId"):
                items = up.usages.get(params["municipalityId"], [])
            else:
                items = [u for us in up.usages.values() for u in us]
            page, size = int(params.get("page", 1)), int(params.get("pageSize", 20))
            chunk = items[(page - 1) * size : page * size]
            return httpx.Response(200, json={"items": chunk, "total": len(items)})
        return httpx.Response(404, json={})

    return httpx.MockTransport(handle)


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """One request straight into the ASGI app."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"procurement.test"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("procurement.test", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status, chunks = 0, []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def main(args: argparse.Namespace) -> None:
    load_models()
    tmp = Path(tempfile.mkdtemp())
    admin = None
    if args.db == "postgresql":
        from sqlalchemy.ext.asyncio import create_async_engine

        base = _asyncpg_url(args.admin_url)
        db_name = f"procurement_prof_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        from sqlalchemy.engine import make_url

        url = make_url(base).set(database=db_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'p.db'}"
    await asyncio.to_thread(upgrade, "procurement.migrations", url)
    issuer = TestIssuer()
    up = FakeUpstreams(issuer, municipalities())
    settings = Settings(
        environment="production",
        database_url=url,
        registry_url="http://registry.test",
        token_url="http://registry.test/auth/token",  # noqa: S106 (a URL)
        auth_issuer=issuer.issuer,
        otel_sdk_disabled=True,
        log_level="WARNING",
    )
    database = database_for(url)
    app = create_app(settings, database=database, token_verifier=issuer.verifier())
    app.state.registry.http._transport = registry_transport(up)
    try:
        lead = issuer.headers(
            sub="lead", scopes=["procurement:read", "procurement:manage"], org_id=LEAD_OIN
        )
        lead["content-type"] = "application/json"
        tender = tender_body(up, "Profile")
        status, raw = await call(app, "POST", "/v1/tenders", lead, json.dumps(tender).encode())
        assert status == 201, raw
        created = json.loads(raw)
        tid, lots = created["id"], [lot["id"] for lot in created["lots"]]
        status, raw = await call(app, "POST", f"/v1/tenders/{tid}/publication", lead)
        assert status == 200, raw

        towns = up.organisations[1 : 1 + args.n]
        requests = []
        for i, town in enumerate(towns):
            headers = {
                **issuer.headers(
                    sub=f"staff-{town['cbsCode']}",
                    scopes=["procurement:enroll"],
                    org_id=town["oin"],
                    org_type="municipality",
                ),
                "Idempotency-Key": f"prof-{town['cbsCode']}",
                "content-type": "application/json",
            }
            body = json.dumps(
                {
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
            ).encode()
            requests.append((headers, body))
        path = f"/v1/tenders/{tid}/enrollments"
        profile: Any = cProfile.Profile()
        if args.pyinstrument:
            # Optional, not a project dependency: a sampling profiler shows coroutine
            # stacks better than cProfile (PYTHONPATH pointing at an install of it).
            from pyinstrument import Profiler

            profile = Profiler(interval=0.0005, async_mode="disabled")
            profile.enable = profile.start
            profile.disable = lambda: profile.is_running and profile.stop()
        report: dict[str, Any] = {}
        if args.only in (None, "enroll"):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if args.only == "enroll":
                profile.enable()
            statuses: dict[int, int] = {}
            cpu_first = 0.0
            for headers, body in requests:
                for attempt in range(2):  # the submission and its duplicate (replayed)
                    t0 = time.process_time()
                    status, raw = await call(app, "POST", path, headers, body)
                    if attempt == 0:
                        cpu_first += time.process_time() - t0
                    statuses[status] = statuses.get(status, 0) + 1
            profile.disable()
            cpu = time.process_time() - cpu0
            report["enroll"] = {
                "statuses": statuses,
                "cpu_ms_per_request": round(cpu / (2 * len(requests)) * 1000, 2),
                "cpu_ms_first": round(cpu_first / len(requests) * 1000, 2),
                "cpu_ms_replay": round((cpu - cpu_first) / len(requests) * 1000, 2),
                "wall_ms_per_request": round(
                    (time.perf_counter() - wall0) / (2 * len(requests)) * 1000, 2
                ),
            }
        else:
            for headers, body in requests:
                await call(app, "POST", path, headers, body)
        # "tender" (one small row) shows the per-request floor of the framework stack.
        for name in ("tender", "demand", "ocds"):
            if args.only not in (None, name):
                continue
            read = f"/v1/tenders/{tid}" + ("" if name == "tender" else f"/{name}")
            await call(app, "GET", read, lead)
            cpu0 = time.process_time()
            if args.only == name:
                profile.enable()
            for _ in range(args.reads):
                status, raw = await call(app, "GET", read, lead)
                assert status == 200, raw[:300]
            profile.disable()
            report[name] = {
                "cpu_ms_per_request": round((time.process_time() - cpu0) / args.reads * 1000, 2)
            }
        print(json.dumps({"db": args.db, "n": len(requests), **report}))
        if args.only and args.pyinstrument:
            print(profile.output_text(unicode=False, color=False, show_all=False))
        elif args.only:
            stats = pstats.Stats(profile).sort_stats(args.sort)
            stats.print_stats(*([args.filter] if args.filter else []), args.top)
    finally:
        await app.state.registry.aclose()
        await database.dispose()
        if admin is not None:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--n", type=int, default=342)
    parser.add_argument("--reads", type=int, default=100)
    parser.add_argument("--only", choices=["enroll", "tender", "demand", "ocds"])
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--filter", default="", help="regex on file:function")
    asyncio.run(main(parser.parse_args()))
