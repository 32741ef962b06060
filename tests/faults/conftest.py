"""The fault suite's fixtures: registry, procurement and gateway as real processes (faultkit)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from faultkit import platform, stack

__all__ = ["platform", "stack"]
