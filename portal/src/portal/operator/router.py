"""Pages of this section (added step by step)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
