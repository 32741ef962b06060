"""Fixtures for the static deploy tests (helpers live in deploy_helpers.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

# The test modules import deploy_helpers; importlib mode does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

import deploy_helpers


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return deploy_helpers.load_compose()


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered with `kubectl kustomize`; skipped where kubectl is missing."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not installed (Debian package kubectl): cannot render kustomize")
    return deploy_helpers.render_overlays(kubectl)
