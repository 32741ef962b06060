"""The portal's own table metadata: its sessions (it keeps no other service's data)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

mapper_registry = registry()


class Base(SQLModel, registry=mapper_registry):
    """Base class of every portal table."""


metadata = Base.metadata


def load_models() -> None:
    """Import every domain's models so the metadata is complete (migrations, tests)."""
    from .sessions import models  # noqa: F401
