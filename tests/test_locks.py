"""The committed requirements.lock satisfies every dependency the pyproject files declare.

uv.lock is untracked (it records registry URLs), so this is the offline check that
`make lock` was run after a dependency changed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECTS = [
    ROOT / "pyproject.toml",
    *sorted(ROOT.glob("libs/*/pyproject.toml")),
    *sorted(ROOT.glob("services/*/pyproject.toml")),
    ROOT / "gateway" / "pyproject.toml",
    ROOT / "portal" / "pyproject.toml",
]


def locked_versions() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    found = re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^ ;\\]+)", text, re.MULTILINE)
    return {canonicalize_name(name): version for name, version in found}


def declared(pyproject: Path) -> list[str]:
    data = tomllib.loads(pyproject.read_text())
    requirements = list(data.get("project", {}).get("dependencies", []))
    for group in data.get("dependency-groups", {}).values():
        requirements += [r for r in group if isinstance(r, str)]
    return requirements


def test_lock_has_no_urls() -> None:
    assert not re.search(r"https?://", (ROOT / "requirements.lock").read_text())


@pytest.mark.parametrize("pyproject", PYPROJECTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_declared_dependency_is_locked(pyproject: Path) -> None:
    locked = locked_versions()
    workspace = {
        canonicalize_name(tomllib.loads(p.read_text())["project"]["name"]) for p in PYPROJECTS
    }
    for line in declared(pyproject):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name in workspace:
            continue
        assert name in locked, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{requirement.name}=={locked[name]} does not satisfy {requirement}: run make lock"
        )
