"""`make lock` on a fresh clone keeps requirements.lock's versions: scripts/seed_uv_lock.py
turns its pins into the workspace's constraints for one resolution."""

from __future__ import annotations

import importlib.util
import tomllib

from deploy_helpers import ROOT
from packaging.requirements import Requirement

spec = importlib.util.spec_from_file_location("seed_uv_lock", ROOT / "scripts/seed_uv_lock.py")
assert spec is not None
assert spec.loader is not None
seed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seed)


def test_every_pin_of_requirements_lock_becomes_a_constraint() -> None:
    text = (ROOT / "requirements.lock").read_text()
    pins = seed.pins(text)
    pinned_lines = [line for line in text.splitlines() if "==" in line and line[0].isalnum()]
    assert len(pins) == len(pinned_lines) > 50
    parsed = {Requirement(pin).name.lower(): Requirement(pin) for pin in pins}
    assert str(parsed["fastapi"].specifier).startswith("==")
    # A marker stays with its pin: a Windows-only package is not asked for on Linux.
    assert parsed["colorama"].marker is not None
    assert "win32" in str(parsed["colorama"].marker)
    # Workspace members are built from source, not pinned.
    assert not any(name.startswith("samen") for name in parsed)


def test_the_constraints_go_into_the_root_project_s_uv_table() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    pins = ["fastapi==0.1.0", "colorama==0.4.6 ; sys_platform == 'win32'"]
    seeded = tomllib.loads(seed.with_constraints(pyproject, pins))
    assert seeded["tool"]["uv"]["constraint-dependencies"] == pins
    original = tomllib.loads(pyproject)
    assert seeded["tool"]["uv"]["workspace"] == original["tool"]["uv"]["workspace"]
    assert seeded["project"] == original["project"]
