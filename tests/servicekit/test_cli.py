"""`python -m <part> prepare`: migrate, then seed (one process, used by `make run`)."""

from __future__ import annotations

import argparse

import pytest

from servicekit import cli
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
