"""The migrations build exactly the tables the models describe (no drift), on both
engines. Known extras that live outside the ORM: the FTS5 tables (SQLite) and the stored
search vectors with their GIN indexes (PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from registry.db import load_models, metadata
from servicekit.db import Database

OUTSIDE_ORM = ("_fts", "search_vector", "_search")


def _relevant(diff: Any) -> bool:
    text = repr(diff)
    return not any(marker in text for marker in OUTSIDE_ORM)


async def test_models_match_migrations(registry_db: Database) -> None:
    load_models()

    def compare(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, metadata))

    async with registry_db.engine.connect() as conn:
        diffs = await conn.run_sync(compare)
    flat = [d for diff in diffs for d in (diff if isinstance(diff, list) else [diff])]
    assert flat, "the comparison sees the FTS extras, so it ran"
    assert [d for d in flat if _relevant(d)] == []
