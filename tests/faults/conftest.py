"""The fault suite's fixture: registry and gateway as real processes (see faultkit)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from faultkit import stack

__all__ = ["stack"]
