"""`python -m <part> prepare`: migrate, then seed (one process, used by `make run`)."""

from __future__ import annotations

import argparse

import pytest

from gateway.config import Settings as GatewaySettings
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
    cli.run_cli(
        service="demo",
        settings_factory=settings_factory,  # type: ignore[arg-type]
        app_factory="demo:create_app",
        default_port=1,
        migrations_package=None,
        argv=["serve"],
    )
    assert seen["proxy_headers"] is trusted
