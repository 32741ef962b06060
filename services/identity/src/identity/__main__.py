"""`python -m identity migrate|serve|seed|rotate-keys|prune-keys|purge`."""

from __future__ import annotations

import argparse
import json

from servicekit.cli import run_cli
from servicekit.db import Database
from servicekit.settings import ServiceSettings

from .config import Settings, get_settings
from .keys import KeyStore


async def _seed(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    from .seed import seed

    assert isinstance(settings, Settings)
    created = await seed(settings)
    print(f"identity: seeded {', '.join(created) if created else 'nothing new'}")


def _store(settings: Settings) -> tuple[Database, KeyStore]:
    database = Database(settings.database_url or settings.sqlite_default("identity"))
    return database, KeyStore(
        database.sessionmaker, settings.key_encryption_key, settings.key_retention_seconds
    )


async def _rotate(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    assert isinstance(settings, Settings)
    database, store = _store(settings)
    try:
        await store.ensure()
        print(json.dumps(await store.rotate(actor="cli"), indent=2))
    finally:
        await database.dispose()


async def _prune(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    assert isinstance(settings, Settings)
    database, store = _store(settings)
    try:
        print(json.dumps({"removed": await store.prune(actor="cli")}))
    finally:
        await database.dispose()


async def _purge(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    from .maintenance import purge_expired

    assert isinstance(settings, Settings)
    database = Database(settings.database_url or settings.sqlite_default("identity"))
    try:
        print(json.dumps(await purge_expired(database.sessionmaker)))
    finally:
        await database.dispose()


def main() -> None:
    run_cli(
        service="identity",
        settings_factory=get_settings,
        app_factory="identity.main:create_app",
        default_port=8001,
        migrations_package="identity.migrations",
        commands={
            "seed": ("create signing keys and the demo clients (development)", _seed, None),
            "rotate-keys": (
                "activate the published next key, retire the active one, publish a new next",
                _rotate,
                None,
            ),
            "prune-keys": ("stop publishing retired keys past their retention", _prune, None),
            "purge": ("delete expired requests, codes, tokens and one-time ids", _purge, None),
        },
    )


if __name__ == "__main__":
    main()
