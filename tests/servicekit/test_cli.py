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
