"""`python -m <part> prepare`: migrate, then seed (one process, used by `make run`)."""

from __future__ import annotations

import argparse
import gc
import os

import pytest

from gateway.config import Settings as GatewaySettings
from servicekit import cli
from servicekit.app import FREEZE_AFTER_START_UP, YOUNG_COLLECTION_THRESHOLD
from servicekit.settings import ServiceSettings


def run(monkeypatch: pytest.MonkeyPatch, commands: dict, calls: list[str]) -> None:  # type: ignore[type-arg]
    monkeypatch.setattr(cli, "upgrade", lambda package, url: calls.append(f"upgrade {package}"))
    cli.run_cli(
        service="demo",
        settings_factory=lambda: ServiceSettings(environment="test"),
        app_factory="demo:create_app",
        default_port=1,
        migrations_package="demo.migrations",
        commands=commands,
        argv=["prepare"],
    )


def test_prepare_migrates_then_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def seed(_settings: ServiceSettings, _args: argparse.Namespace) -> None:
        calls.append("seed")

    run(monkeypatch, {"seed": ("seed demo data", seed, None)}, calls)
    assert calls == ["upgrade demo.migrations", "seed"]


def test_prepare_without_seed_only_migrates(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    run(monkeypatch, {}, calls)
    assert calls == ["upgrade demo.migrations"]


@pytest.mark.parametrize(
    ("settings_factory", "trusted"),
    [
        # A service behind the gateway trusts X-Forwarded-For from the gateway's peer.
        (lambda: ServiceSettings(environment="test"), True),
        # The public gateway only when it is configured to sit behind a trusted balancer.
        (lambda: GatewaySettings(trust_forwarded_for=False), False),
        (lambda: GatewaySettings(trust_forwarded_for=True), True),
    ],
)
def test_serve_trusts_forwarded_headers_only_where_configured(
    monkeypatch: pytest.MonkeyPatch, settings_factory: object, trusted: bool
) -> None:
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    # serve sets this for its worker processes; restored afterwards for the other tests.
    monkeypatch.setenv(FREEZE_AFTER_START_UP, "0")
    cli.run_cli(
        service="demo",
        settings_factory=settings_factory,  # type: ignore[arg-type]
        app_factory="demo:create_app",
        default_port=1,
        migrations_package=None,
        argv=["serve"],
    )
    assert seen["proxy_headers"] is trusted
    assert os.environ[FREEZE_AFTER_START_UP] == "1"


async def test_the_start_up_heap_is_frozen_only_under_serve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under ``serve`` the objects alive after start-up go to the collector's permanent
    generation (full collections no longer walk them) and young collections run less often;
    elsewhere (tests, tools) neither."""
    from fastapi import FastAPI

    from servicekit.app import create_service_app

    def app() -> FastAPI:
        return create_service_app(
            service="demo",
            title="Demo",
            version="1.0.0",
            description="demo",
            settings=ServiceSettings(environment="test", database_url="sqlite+aiosqlite://"),
        )

    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        monkeypatch.delenv(FREEZE_AFTER_START_UP, raising=False)
        plain = app()
        async with plain.router.lifespan_context(plain):
            assert gc.get_freeze_count() == 0
            assert gc.get_threshold() == thresholds
        monkeypatch.setenv(FREEZE_AFTER_START_UP, "1")
        served = app()
        async with served.router.lifespan_context(served):
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


# ---------------------------------------------------------------- migrate waits for the DB


def test_wait_for_database_retries_with_growing_bounded_pauses() -> None:
    failures = iter([ConnectionRefusedError()] * 7)
    pauses: list[float] = []

    async def ping(_url: str) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure

    tries = cli.wait_for_database(
        "demo", "postgresql+asyncpg://u@db/x", 600, ping=ping, sleep=pauses.append
    )
    assert tries == 8
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_wait_for_database_gives_up_at_the_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    now = [0.0]
    pauses: list[float] = []

    async def ping(_url: str) -> None:
        raise OSError("connection refused to postgresql://u:secret@db")

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    with pytest.raises(SystemExit, match="not reachable after 6 tries"):
        cli.wait_for_database(
            "demo", "postgresql+asyncpg://u@db/x", 12, ping=ping, sleep=sleep, clock=lambda: now[0]
        )
    assert pauses == [0.5, 1.0, 2.0, 4.0, 4.5]  # the last pause ends at the deadline
    assert "secret" not in capsys.readouterr().err  # the error's type only, never its text


def test_wait_for_database_skips_sqlite() -> None:
    async def ping(_url: str) -> None:
        raise AssertionError("SQLite is not pinged")

    assert cli.wait_for_database("demo", "sqlite+aiosqlite:///x.db", 1, ping=ping) == 0


def test_migrate_against_a_database_that_is_not_there_exits_non_zero() -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none",
    }
    result = subprocess.run(
        [sys.executable, "-m", "registry", "migrate", "--wait", "1.2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "retrying in 0.5 s" in result.stderr
    assert "database not reachable after 3 tries" in result.stderr


def test_wait_for_database_connects_once_the_database_comes_up() -> None:
    """A real connection: the port starts accepting (forwarding to TEST_DATABASE_URL's
    server) only after the first tries have been refused."""
    import contextlib
    import socket
    import threading

    from sqlalchemy.engine import make_url

    from servicekit.testing import test_database_base_url

    base = test_database_base_url()
    if not base:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    target = make_url(base)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def serve_later() -> None:
        stop.wait(1.2)
        with socket.create_server(("127.0.0.1", port)) as server:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection((target.host, target.port or 5432))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve_later, daemon=True)
    thread.start()
    try:
        url = target.set(drivername="postgresql+asyncpg", host="127.0.0.1", port=port)
        tries = cli.wait_for_database("demo", url.render_as_string(hide_password=False), 60)
        assert tries >= 2  # refused at first, then connected through the late listener
    finally:
        stop.set()
        thread.join(5)
