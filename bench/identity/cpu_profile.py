"""Server-side CPU time and database round trips per grant and per login, in-process.

    .venv/bin/python bench/identity/cpu_profile.py [--grants 300] [--logins 50] [--cprofile]

Runs the identity app in this process on a fresh PostgreSQL database (BENCH_DATABASE_URL)
and sends requests one at a time through an ASGI wrapper that measures only the server:
CPU time (``time.process_time``, so other load on the machine hardly matters), SQL
statements and transactions per operation, and optionally a cProfile of the server
code alone (CPU timer). This is the repeatable measure to optimise with; bench.py gives
the throughput figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import logging
import os
import pstats
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from sqlalchemy import event

from identity.config import Settings
from identity.main import create_app
from identity.seed import demo_key, seed
from servicekit.dbdriver import DriverConnections
from servicekit.testing import fresh_database_url, migrated_database

HERE = Path(__file__).parent
logging.getLogger("httpx").setLevel(logging.WARNING)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BASE = "http://identity.bench"


class Meter:
    """ASGI wrapper: server CPU time and (optionally) a CPU-time cProfile of the app."""

    def __init__(self, app: Any, profile: bool) -> None:
        self.app = app
        self.cpu = 0.0
        self.requests = 0
        self.by_route: Counter[str] = Counter()
        self.on = False
        self.profiler = cProfile.Profile(time.process_time) if profile else None
        self.only = ""
        self.route = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.on or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Requests run one at a time, so the process CPU time between entry and exit
        # belongs to this request (the client's own work happens outside).
        route = scope["path"]
        if route.startswith("/auth/simulators/"):
            route = "/auth/simulators/{means}/" + route.rsplit("/", 1)[-1]
        self.route = f"{scope['method']} {route}"
        started = time.process_time()
        profile = self.profiler is not None and scope["path"].startswith(self.only)
        if profile and self.profiler:
            self.profiler.enable()
        try:
            await self.app(scope, receive, send)
        finally:
            if profile and self.profiler:
                self.profiler.disable()
            used = time.process_time() - started
            self.cpu += used
            self.requests += 1
            self.by_route[self.route] += used


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


async def login(http: httpx.AsyncClient) -> None:
    http.cookies.clear()
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
    r = await http.post("/auth/login", data={**dict(HIDDEN.findall(page.text)), "means": "digid"})
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
    query = dict(p.split("=", 1) for p in urlsplit(r.headers["location"]).query.split("&"))
    r = await http.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": "http://127.0.0.1:8080/callback",
            "code_verifier": verifier,
        },
        headers={"Authorization": basic("demo-gemeente", "demo-gemeente-dev-secret")},
    )
    if r.status_code != 200 or "id_token" not in r.json():
        raise RuntimeError(f"login failed: {r.status_code} {r.text}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=300)
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--cprofile", action="store_true", help="print the top functions")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--only", default="", help="profile only paths starting with this")
    parser.add_argument("--dump", default="", help="also write the cProfile stats to this file")
    parser.add_argument(
        "--scenarios",
        default="basic,jwt,login",
        help="comma-separated subset of basic, jwt, login to measure (and profile)",
    )
    parser.add_argument(
        "--statements", action="store_true", help="list the SQL statements of one login by step"
    )
    args = parser.parse_args()
    os.environ["TEST_DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    async with fresh_database_url("identity_profile", HERE) as url:
        database = await migrated_database("identity.migrations", url)
        await seed(Settings(database_url=url, issuer=BASE), database)
        await database.dispose()
        settings = Settings(database_url=url, issuer=BASE, environment="test")
        app = create_app(settings)
        engine = app.state.identity.database.engine
        sql: Counter[str] = Counter()
        trail: list[tuple[str, str]] = []
        meter = Meter(app, args.cprofile)

        def note(kind: str, statement: str) -> None:
            sql[kind] += 1
            if meter.on:
                trail.append((meter.route, " ".join(statement.split())[:110]))

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
            note(statement.split(None, 1)[0].upper(), statement)

        @event.listens_for(engine.sync_engine, "commit")
        def _commit(_conn: Any) -> None:
            note("COMMIT", "COMMIT")

        @event.listens_for(engine.sync_engine, "rollback")
        def _rollback(_conn: Any) -> None:
            note("ROLLBACK", "ROLLBACK")

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(_conn: Any) -> None:
            note("BEGIN", "BEGIN")

        # Reads sent through servicekit's Database.fetch on a raw asyncpg connection pass
        # no SQLAlchemy event: counted here.
        driver_fetch = DriverConnections.fetch

        async def counted_fetch(self: DriverConnections, statement: str, *args: Any) -> Any:
            note(statement.split(None, 1)[0].upper(), statement + " (asyncpg)")
            return await driver_fetch(self, statement, *args)

        DriverConnections.fetch = counted_fetch  # type: ignore[method-assign]
        meter.only = args.only
        key = demo_key()
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=meter), base_url=BASE) as http,
        ):
            secret = {"Authorization": basic("samen-admin", "samen-admin-dev-secret")}
            form = {"grant_type": "client_credentials"}

            def assertion() -> dict[str, str]:
                now = int(time.time())
                claims = {
                    "iss": "demo-system",
                    "sub": "demo-system",
                    "aud": f"{BASE}/auth/token",
                    "jti": generate_token(20),
                    "iat": now,
                    "exp": now + 600,
                }
                token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
                return {**form, "client_assertion_type": ASSERTION_TYPE, "client_assertion": token}

            async def basic_grant() -> None:
                r = await http.post("/auth/token", data=form, headers=secret)
                assert r.status_code == 200, r.text

            async def jwt_grant(body: dict[str, str]) -> None:
                r = await http.post("/auth/token", data=body)
                assert r.status_code == 200, r.text

            # Warm up every path (caches, pools, lazily built state).
            for _ in range(20):
                await basic_grant()
                await jwt_grant(assertion())
            for _ in range(5):
                await login(http)
            bodies = [assertion() for _ in range(args.grants)]
            print(f"{'scenario':<26} {'server CPU ms/op':>16} {'requests/op':>11}  SQL per op")
            wanted = set(args.scenarios.split(","))
            for key, name, count, run in (
                ("basic", "client_secret_basic grant", args.grants, lambda i: basic_grant()),
                ("jwt", "private_key_jwt grant", args.grants, lambda i: jwt_grant(bodies[i])),
                ("login", "login (code + PKCE)", args.logins, lambda i: login(http)),
            ):
                if key not in wanted:
                    continue
                meter.cpu, meter.requests, meter.on = 0.0, 0, True
                meter.by_route.clear()
                sql.clear()
                for i in range(count):
                    await run(i)
                meter.on = False
                per_op = ", ".join(f"{k} {v / count:.1f}" for k, v in sorted(sql.items()))
                print(
                    f"{name:<26} {1000 * meter.cpu / count:>16.3f} "
                    f"{meter.requests / count:>11.1f}  {per_op}"
                )
                if len(meter.by_route) > 1:
                    for route, used in meter.by_route.items():
                        print(f"    {route:<44} {1000 * used / count:>8.3f} ms")
            if args.statements:
                trail.clear()
                meter.on = True
                await login(http)
                meter.on = False
                print("\nSQL statements of one login, by step:")
                for route, statement in trail:
                    print(f"  {route:<40} {statement}")
    if meter.profiler:
        stats = pstats.Stats(meter.profiler)
        if args.dump:
            stats.dump_stats(args.dump)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats("identity/", args.top)


if __name__ == "__main__":
    asyncio.run(main())
