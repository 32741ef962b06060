"""`python -m registry migrate|serve|import-municipalities FILE|seed`."""

from servicekit.cli import run_cli

from .config import get_settings
from .seed.commands import COMMANDS


def main() -> None:
    run_cli(
        service="registry",
        settings_factory=get_settings,
        app_factory="registry.main:create_app",
        default_port=8002,
        migrations_package="registry.migrations",
        commands=COMMANDS,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
