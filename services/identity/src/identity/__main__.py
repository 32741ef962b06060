"""`python -m identity migrate|serve`."""

from servicekit.cli import run_cli

from .config import get_settings


def main() -> None:
    run_cli(
        service="identity",
        settings_factory=get_settings,
        app_factory="identity.main:create_app",
        default_port=8001,
        migrations_package="identity.migrations",
    )


if __name__ == "__main__":
    main()
