"""Write every service's OpenAPI document to a folder (for the ADR linter)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

SERVICES = ("registry", "identity", "procurement")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        module = importlib.import_module(f"{name}.main")
        app = module.create_app()
        (out / f"{name}.json").write_text(json.dumps(app.openapi(), indent=2))
        print(f"wrote {out / f'{name}.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".data/openapi"))
