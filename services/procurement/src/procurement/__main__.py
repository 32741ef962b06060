"""`python -m procurement migrate|serve`."""

from servicekit.cli import run_cli

from .config import get_settings


def main() -> None:
    run_cli(service="procurement", settings_factory=get_settings, default_port=8003)


if __name__ == "__main__":
    main()
