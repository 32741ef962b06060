"""`python -m procurement migrate|serve`."""

from servicekit.cli import run_cli

from .config import get_settings


def main() -> None:
    run_cli(
        service="procurement",
        settings_factory=get_settings,
        app_factory="procurement.main:create_app",
        default_port=8003,
        migrations_package="procurement.migrations",
    )


if __name__ == "__main__":
    main()
