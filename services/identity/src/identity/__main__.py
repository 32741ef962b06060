"""`python -m identity migrate|serve|seed|register-client|rotate-keys|prune-keys|purge|rotate-kek`."""

from __future__ import annotations

import argparse
import json
import sys

from servicekit.actor import Actor
from servicekit.cli import run_cli
from servicekit.db import Database, opened
from servicekit.settings import ServiceSettings

from .config import Settings, get_settings
from .keys.service import JWKS_MAX_AGE_SECONDS, KeyStore

# Changes made from the command line, as the audit trail names them.
CLI = Actor("cli")


async def _seed(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    from .seed import seed

    assert isinstance(settings, Settings)
    created = await seed(settings)
    print(f"identity: seeded {', '.join(created) if created else 'nothing new'}")


def _register_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--file", help="the registration (JSON, as for POST /v1/clients); - = stdin"
    )
    source.add_argument("--json", help="the registration as a JSON string")


def _registration_text(args: argparse.Namespace) -> str:
    if args.json is not None:
        return str(args.json)
    if args.file == "-":
        return sys.stdin.read()
    with open(args.file, encoding="utf-8") as handle:
        return handle.read()


async def _register_client(settings: ServiceSettings, args: argparse.Namespace) -> None:
    """Create a client, or replace the registration of the client with that clientId
    (e.g. its public keys): how production registers its own machine clients, which have
    no administrator token to call /v1/clients with yet (deploy/README.md)."""
    from pydantic import ValidationError

    from servicekit.errors import ProblemError

    from .clients.repository import by_client_id_in
    from .clients.schemas import ClientIn
    from .clients.service import create_client, replace_client

    assert isinstance(settings, Settings)
    raw = _registration_text(args)
    try:
        data = ClientIn.model_validate_json(raw)
    except ValidationError as exc:
        raise SystemExit(f"identity: invalid registration: {exc}") from None
    production = settings.environment == "production"
    try:
        async with opened(settings.database_url_of("identity")) as database:
            async with database.sessionmaker() as session:
                row = await by_client_id_in(session, data.client_id)
            async with database.sessionmaker() as session:
                secret = None
                if row is None:
                    row, secret = await create_client(session, data, CLI, production=production)
                    action = "created"
                else:
                    row = await replace_client(
                        session, row.id, data, CLI, row.version, production=production
                    )
                    action = "replaced"
    except ProblemError as exc:
        raise SystemExit(f"identity: {data.client_id} not registered: {exc.to_dict()}") from None
    result = {"clientId": row.client_id, "id": str(row.id), "action": action}
    if secret:
        result["clientSecret"] = secret  # shown once, as by POST /v1/clients
    print(json.dumps(result))


def _store(settings: Settings, database: Database) -> KeyStore:
    return KeyStore(
        database.sessionmaker, settings.key_encryption_key, settings.key_retention_seconds
    )


async def _rotate(settings: ServiceSettings, args: argparse.Namespace) -> None:
    assert isinstance(settings, Settings)
    async with opened(settings.database_url_of("identity")) as database:
        store = _store(settings, database)
        await store.ensure()
        summary = await store.rotate(actor="cli", at_once=args.at_once)
        print(json.dumps(summary, indent=2))
    if summary["waiting"]:
        print(
            f"identity rotate-keys: {', '.join(summary['waiting'])} published less than "
            f"{JWKS_MAX_AGE_SECONDS} s ago (verifiers may not have it yet): not activated; "
            "run again later, or with --at-once after a key leak",
            file=sys.stderr,
        )


def _rotate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at-once",
        action="store_true",
        help=f"activate next keys published less than {JWKS_MAX_AGE_SECONDS} s ago (a leak)",
    )


async def _prune(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    assert isinstance(settings, Settings)
    async with opened(settings.database_url_of("identity")) as database:
        print(json.dumps({"removed": await _store(settings, database).prune(actor="cli")}))


async def _purge(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    from .maintenance import purge_expired

    async with opened(settings.database_url_of("identity")) as database:
        print(json.dumps(await purge_expired(database.sessionmaker)))


async def _rotate_kek(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    from .kek import KekRotationError, rotate_kek

    assert isinstance(settings, Settings)
    try:
        async with opened(settings.database_url_of("identity")) as database:
            summary = await rotate_kek(database.sessionmaker, settings.key_encryption_keys)
    except KekRotationError as exc:
        raise SystemExit(f"identity rotate-kek: {exc}") from None
    print(json.dumps(summary))


def main() -> None:
    run_cli(
        service="identity",
        settings_factory=get_settings,
        default_port=8001,
        commands={
            "seed": ("create signing keys and the demo clients (development)", _seed, None),
            "register-client": (
                "create a client, or replace the registration with the same clientId",
                _register_client,
                _register_options,
            ),
            "rotate-keys": (
                "activate the published next key, retire the active one, publish a new next",
                _rotate,
                _rotate_options,
            ),
            "prune-keys": ("stop publishing retired keys past their retention", _prune, None),
            "purge": ("delete expired requests, codes, tokens and one-time ids", _purge, None),
            "rotate-kek": (
                "re-encrypt the stored signing keys and session attributes with "
                "IDENTITY_KEY_ENCRYPTION_KEY (reading IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS), "
                "all or nothing",
                _rotate_kek,
                None,
            ),
        },
    )


if __name__ == "__main__":
    main()
