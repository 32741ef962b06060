"""`python -m gateway serve`."""

from servicekit.cli import run_cli

from .config import get_settings


def main() -> None:
    run_cli(
        service="gateway", settings_factory=get_settings, default_port=8000, migrations_package=None
    )


if __name__ == "__main__":
    main()
