"""The identity service's own table metadata (never shared with other services)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from servicekit.idempotency import idempotency_table

mapper_registry = registry()


class Base(SQLModel, registry=mapper_registry):
    """Base class of every identity table."""


metadata = Base.metadata
idempotency_keys = idempotency_table(metadata)


def load_models() -> None:
    """Import every domain's models so the metadata is complete (migrations, tests)."""
    from . import models  # noqa: F401
