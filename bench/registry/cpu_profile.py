"""Server-side CPU time per request of the registry's read endpoints, in-process.

    .venv/bin/python bench/registry/run.py --load-only          # once: prints a database URL
    .venv/bin/python bench/registry/cpu_profile.py --database-url URL [--requests 2000]
        [--only detail_offering] [--cprofile] [--framework]

Builds the registry app in this process (production settings, tracing on as in the
benchmark, tokens from a local test issuer) on the loaded benchmark database and calls it
directly as an ASGI app, one request at a time, so the process CPU time between entry and
exit is the server's own work for that request (uvicorn's HTTP parsing excluded). This is
the repeatable measure to optimise with (other load on the machine hardly matters);
run.py gives the latency figures. ``--framework`` also measures a route that does nothing,
i.e. what every request pays for middleware, routing and authentication.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from fastapi import APIRouter, Security
from joserfc.jwk import RSAKey

from servicekit.auth import Principal
from servicekit.testing import TestIssuer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import existing_data, scenario_urls  # noqa: E402


async def call(app: Any, url: str, token: bytes) -> tuple[int, bytes]:
    path, _, query = url.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"registry.bench"),
            (b"authorization", b"Bearer " + token),
            (b"accept", b"application/json"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0
    body = b""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            body += message.get("body", b"")

    await app(scope, receive, send)
    return status, body


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--cprofile", action="store_true", help="print the top functions")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--framework", action="store_true", help="also a route doing nothing")
    parser.add_argument(
        "--warm", action="store_true", help="call every URL once before measuring (cache hits)"
    )
    args = parser.parse_args()
    issuer = TestIssuer()
    os.environ.update(
        {
            "REGISTRY_DATABASE_URL": args.database_url,
            "REGISTRY_ENVIRONMENT": "production",
            "REGISTRY_AUTH_ISSUER": issuer.issuer,
            "REGISTRY_LOG_LEVEL": "WARNING",
            "REGISTRY_WEBHOOKS_ENABLED": "false",
            "REGISTRY_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
            "REGISTRY_AUTH_CLIENT_PRIVATE_KEY_JWK": json.dumps(
                RSAKey.generate_key(2048, private=True).as_dict(private=True)
            ),
        }
    )
    from registry.auth import READ, auth
    from registry.config import Settings
    from registry.main import create_app

    nothing = APIRouter()

    @nothing.get("/v1/nothing", include_in_schema=False)
    async def do_nothing(_principal: Principal = Security(auth, scopes=[READ])) -> dict[str, str]:
        return {}

    app = create_app(Settings())
    app.include_router(nothing)
    app.state.token_verifier = issuer.verifier()
    token = issuer.token(
        sub="bench", scopes=["registry:read", "registry:contracts"], lifetime=7200
    ).encode()
    data = await existing_data(args.database_url)
    plan = scenario_urls(data["facility_ids"], data["offering_ids"], args.requests)
    if args.framework:
        plan = {"framework_only": ["/v1/nothing"] * args.requests, **plan}
    if args.only:
        plan = {k: v for k, v in plan.items() if k in args.only or k == "framework_only"}
    profiler = cProfile.Profile(time.process_time) if args.cprofile else None
    async with app.router.lifespan_context(app):
        print(f"{'scenario':26} {'CPU ms/request':>15} {'wall ms/request':>16}")
        for name, urls in plan.items():
            for url in urls if args.warm else urls[:50]:  # warm-up: statements prepared
                status, body = await call(app, url, token)
                if status != 200:
                    raise RuntimeError(f"{url}: {status} {body[:300]!r}")
            cpu = 0.0
            wall = time.perf_counter()
            for url in urls:
                started = time.process_time()
                if profiler:
                    profiler.enable()
                await call(app, url, token)
                if profiler:
                    profiler.disable()
                cpu += time.process_time() - started
            wall = time.perf_counter() - wall
            print(f"{name:26} {1000 * cpu / len(urls):15.3f} {1000 * wall / len(urls):16.3f}")
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(args.top)


if __name__ == "__main__":
    asyncio.run(main())
