"""`python -m registry migrate|serve|import-municipalities FILE|seed`."""

from servicekit.cli import run_cli

from .config import get_settings
from .seed.commands import COMMANDS


def main() -> None:
    run_cli(
        service="registry",
        settings_factory=get_settings,
        default_port=8002,
        commands=COMMANDS,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
