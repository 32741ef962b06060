"""Command line shared by the services: ``python -m <service> migrate|serve|...``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .app import FREEZE_AFTER_START_UP
from .db import is_sqlite
from .migrations import upgrade
from .settings import ServiceSettings

Command = Callable[[ServiceSettings, argparse.Namespace], Awaitable[None] | None]

# How long `migrate` waits for the database to accept connections (a migration Job can
# start before its database cluster, or while it fails over), and the longest pause between
# two tries (the pauses double from half a second up to it).
DEFAULT_WAIT_SECONDS = 300.0
MAX_RETRY_PAUSE = 10.0


async def _ping(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def wait_for_database(
    service: str,
    url: str,
    wait_seconds: float,
    *,
    ping: Callable[[str], Coroutine[Any, Any, None]] = _ping,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Try to connect until the database answers or ``wait_seconds`` have passed, pausing
    0.5, 1, 2 … seconds (at most ``MAX_RETRY_PAUSE``) between tries; the number of tries,
    or SystemExit naming the last error's type. SQLite needs no waiting."""
    if is_sqlite(url):
        return 0
    deadline = clock() + wait_seconds
    pause = 0.5
    tries = 0
    while True:
        tries += 1
        try:
            asyncio.run(ping(url))
            return tries
        except Exception as exc:  # any failure to connect: not there yet, or never
            remaining = deadline - clock()
            if remaining <= 0:
                raise SystemExit(
                    f"{service}: database not reachable after {tries} tries "
                    f"({wait_seconds:.0f} s): {type(exc).__name__}"
                ) from None
            # The type only: a driver's message can quote the URL, with its password.
            print(
                f"{service}: database not reachable yet ({type(exc).__name__}); "
                f"retrying in {min(pause, remaining):.1f} s",
                file=sys.stderr,
                flush=True,
            )
            sleep(min(pause, remaining))
            pause = min(pause * 2, MAX_RETRY_PAUSE)


def run_cli(
    *,
    service: str,
    settings_factory: Callable[[], ServiceSettings],
    default_port: int,
    app_factory: str = "",
    migrations_package: str | None = "",
    commands: dict[str, tuple[str, Command, Callable[[argparse.ArgumentParser], None] | None]]
    | None = None,
    argv: list[str] | None = None,
) -> None:
    """The part's command line. By convention its app is ``<service>.main:create_app`` and
    its migrations the package ``<service>.migrations``; ``app_factory`` and
    ``migrations_package`` name others (``None``: a part without a database)."""
    app_factory = app_factory or f"{service}.main:create_app"
    if migrations_package == "":
        migrations_package = f"{service}.migrations"
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    sub = parser.add_subparsers(dest="command", required=True)
    if migrations_package:
        migrate = sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
        migrate.add_argument(
            "--wait",
            type=float,
            default=DEFAULT_WAIT_SECONDS,
            metavar="SECONDS",
            help="wait this long for the database to accept connections (default: %(default)s)",
        )
        sub.add_parser(
            "prepare", help="migrate, then load the demo data when this part has a seed command"
        )
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    serve.add_argument("--workers", type=int, default=1)
    extra = commands or {}
    for name, (help_text, _fn, configure) in extra.items():
        p = sub.add_parser(name, help=help_text)
        if configure:
            configure(p)
    args = parser.parse_args(argv)
    settings = settings_factory()
    if args.command == "migrate":
        assert migrations_package
        url = settings.database_url_of(service)
        wait_for_database(service, url, args.wait)
        upgrade(migrations_package, url)
        print(f"{service}: database migrated")
        return
    if args.command == "prepare":
        # One process for both steps: `make run` pays Python's start-up once per part.
        assert migrations_package
        upgrade(migrations_package, settings.database_url_of(service))
        print(f"{service}: database migrated")
        if "seed" in extra:
            seeded = extra["seed"][1](settings, argparse.Namespace())
            if asyncio.iscoroutine(seeded):
                asyncio.run(seeded)
        return
    if args.command == "serve":
        import uvicorn

        options: dict[str, Any] = {
            "host": args.host,
            "port": args.port,
            "factory": True,
            "workers": args.workers,
            "log_config": None,
            "access_log": False,
            # X-Forwarded-* from a trusted peer (uvicorn: FORWARDED_ALLOW_IPS, default
            # 127.0.0.1) rewrite the client address. The services sit behind the gateway;
            # the public gateway itself only when its settings say it is behind a trusted
            # load balancer (else a local client could pick its rate-limit identity).
            "proxy_headers": bool(getattr(settings, "trust_forwarded_for", True)),
            "server_header": False,
            "timeout_graceful_shutdown": 10,
        }
        # Read by the app's start-up in every worker process (see servicekit.app).
        os.environ[FREEZE_AFTER_START_UP] = "1"
        uvicorn.run(app_factory, **options)
        return
    _help, fn, _configure = extra[args.command]
    result = fn(settings, args)
    if asyncio.iscoroutine(result):
        asyncio.run(result)
