"""`python -m portal migrate|prepare|serve|seed|client-registration|purge-sessions`."""

from __future__ import annotations

import argparse
import json

from servicekit.cli import run_cli
from servicekit.db import opened
from servicekit.settings import ServiceSettings

from .config import Settings, get_settings


def _seed(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    """Development: the portal's client key in the data folder, created once."""
    from .auth.keys import ensure_development_key

    assert isinstance(settings, Settings)
    if settings.environment != "production" and ensure_development_key(settings):
        print(f"portal: created the client key {settings.client_key_file}")


def _registration(settings: ServiceSettings, args: argparse.Namespace) -> None:
    """Print the portal's client registrations for `python -m identity register-client`."""
    from .auth.keys import registrations

    assert isinstance(settings, Settings)
    documents = registrations(settings)
    if args.client is not None:
        print(json.dumps(documents[args.client]))
        return
    print(json.dumps(documents, indent=2))


def _registration_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client",
        type=int,
        choices=[0, 1],
        help="only one document: 0 = the log-in client, 1 = the public-pages reader",
    )


async def _purge(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    from .db import load_models
    from .sessions.service import SessionStore

    assert isinstance(settings, Settings)
    load_models()
    async with opened(settings.database_url_of("portal")) as database:
        count = await SessionStore(database, 0, 0).purge()
    print(f"portal: {count} expired sessions deleted")


COMMANDS = {
    "seed": ("development: create the client key when missing", _seed, None),
    "client-registration": (
        "print the client registrations (JSON) for identity's register-client",
        _registration,
        _registration_options,
    ),
    "purge-sessions": ("delete expired sessions", _purge, None),
}


def main() -> None:
    run_cli(
        service="portal",
        settings_factory=get_settings,
        default_port=8004,
        commands=COMMANDS,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
