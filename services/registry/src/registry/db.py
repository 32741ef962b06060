"""The registry service's own table metadata (never shared with other services)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    String,
    Table,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, registry
from sqlmodel import SQLModel

from servicekit.events import outbox_table
from servicekit.idempotency import idempotency_table

mapper_registry = registry()


class Base(SQLModel, registry=mapper_registry):
    """SQLModel base bound to the registry's metadata (kept for the service template)."""


metadata = Base.metadata
idempotency_keys = idempotency_table(metadata)
event_outbox = outbox_table(metadata)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on both engines (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored")
        if value is not None and dialect.name == "sqlite":
            # SQLite stores text; store UTC so ordering by the column is chronological.
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Model(DeclarativeBase):
    """Typed declarative base of the registry's domain tables (same metadata)."""

    metadata = metadata
    type_annotation_map: dict[Any, Any] = {
        datetime: UtcDateTime(),
        uuid.UUID: Uuid(),
        list[str]: JSON(),
        list[dict[str, str]]: JSON(),
    }


row_counts = Table(
    "row_counts",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("n", BigInteger, nullable=False),
    comment="Exact row counts of large tables, kept by triggers on PostgreSQL (0007)",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def load_models() -> None:
    """Import every domain's models so the metadata is complete (migrations, tests)."""
    from .changes import models as _changes  # noqa: F401
    from .costs import models as _costs  # noqa: F401
    from .facilities import models as _facilities  # noqa: F401
    from .offerings import models as _offerings  # noqa: F401
    from .organisations import models as _organisations  # noqa: F401
    from .usages import models as _usages  # noqa: F401
    from .webhooks import models as _webhooks  # noqa: F401
