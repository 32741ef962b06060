"""The identity service's own table metadata (never shared with other services)."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import registry
from sqlalchemy.util import greenlet_spawn
from sqlmodel import SQLModel

from servicekit.idempotency import idempotency_table

mapper_registry = registry()


class Base(SQLModel, registry=mapper_registry):
    """Base class of every identity table."""


metadata = Base.metadata
idempotency_keys = idempotency_table(metadata)


_TRACER = trace.get_tracer("identity.db")


def load_models() -> None:
    """Import every domain's models so the metadata is complete (migrations, tests)."""
    from . import models  # noqa: F401


async def pg_fetch(engine: AsyncEngine, statement: str, *args: Any) -> list[Any]:
    """Run one statement on a pooled connection's asyncpg driver connection (PostgreSQL).

    For hot paths where SQLAlchemy's per-statement CPU (~0.3-0.6 ms) dominates: the
    statement is prepared once per connection (asyncpg's statement cache) and runs
    outside any transaction, so a single statement commits by itself. Traced with a
    client span like SQLAlchemy's statements. A connection that broke is invalidated
    instead of being given back to the pool."""
    with _TRACER.start_as_current_span(
        statement.split(None, 1)[0],
        kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql", "db.statement": statement},
    ):
        raw = await greenlet_spawn(engine.sync_engine.raw_connection)
        try:
            driver = raw.driver_connection
            assert driver is not None  # a checked-out connection has one
            try:
                records: list[Any] = await driver.fetch(statement, *args)
            except BaseException:
                if driver.is_closed():
                    await greenlet_spawn(raw.invalidate)
                raise
        finally:
            await greenlet_spawn(raw.close)
    return records
