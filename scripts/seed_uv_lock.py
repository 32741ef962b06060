"""Write uv.lock from the pins of requirements.lock, so that ``make lock`` on a fresh clone
(uv.lock is not committed) changes only what a pyproject change asks for instead of moving
every package to its newest release.

uv lock takes no constraints file, but a workspace root's ``[tool.uv]
constraint-dependencies`` is one. The workspace is resolved once in a scratch directory
whose pyproject.toml adds the pins as constraints (the members are symlinked, so their paths
in uv.lock are the same); the uv.lock written there is copied here. When the pins cannot all
hold (a new dependency needs a newer release), nothing is written and ``uv lock`` resolves
afresh.

Usage: python scripts/seed_uv_lock.py UV
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A pinned requirement line: ``name==version`` and an optional environment marker.
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?P<marker>\s*;[^\\]+)?"
)


def pins(lock_text: str) -> list[str]:
    """The requirements ``name==version`` (with their markers) of a requirements.lock;
    editable workspace members, hashes and comments are not pins."""
    found = []
    for line in lock_text.splitlines():
        if match := PIN.match(line):
            marker = (match["marker"] or "").strip()
            found.append(f"{match['name']}=={match['version']}{' ' + marker if marker else ''}")
    return found


def with_constraints(pyproject: str, constraints: list[str]) -> str:
    """The root pyproject with ``constraint-dependencies`` added to its ``[tool.uv]``."""
    if not re.search(r"^\[tool\.uv\]$", pyproject, re.M):
        raise ValueError("the root pyproject.toml has no [tool.uv] table")
    listed = ", ".join('"' + c.replace('"', '\\"') + '"' for c in constraints)
    return re.sub(
        r"^\[tool\.uv\]$",
        lambda m: f"{m.group(0)}\nconstraint-dependencies = [{listed}]",
        pyproject,
        count=1,
        flags=re.M,
    )


def main(uv: str) -> int:
    if (ROOT / "uv.lock").exists():
        return 0
    constraints = pins((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(scratch)
        for entry in ROOT.iterdir():
            if entry.name not in ("pyproject.toml", "uv.lock", ".venv", ".uv", ".git"):
                (where / entry.name).symlink_to(entry)
        (where / "pyproject.toml").write_text(
            with_constraints((ROOT / "pyproject.toml").read_text(encoding="utf-8"), constraints),
            encoding="utf-8",
        )
        done = subprocess.run([uv, "lock", "--quiet", "--directory", scratch], check=False)
        if done.returncode != 0:
            print("the pins of requirements.lock do not all hold: uv lock resolves afresh")
            return 0
        shutil.copyfile(where / "uv.lock", ROOT / "uv.lock")
    print("uv.lock written from the pins of requirements.lock")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
