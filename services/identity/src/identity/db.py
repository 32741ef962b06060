"""The identity service's table metadata and its single-statement writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import registry
from sqlalchemy.sql.base import Executable
from sqlmodel import SQLModel

from servicekit.db import Database
from servicekit.idempotency import idempotency_table

mapper_registry = registry()


class Base(SQLModel, registry=mapper_registry):
    """Base class of every identity table."""


metadata = Base.metadata
idempotency_keys = idempotency_table(metadata)


def load_models() -> None:
    """Import every aggregate's models so the metadata is complete (migrations, tests)."""
    from .audit import models as _audit  # noqa: F401
    from .authorization import models as _authorization  # noqa: F401
    from .clients import models as _clients  # noqa: F401
    from .disclosures import models as _disclosures  # noqa: F401
    from .keys import models as _keys  # noqa: F401
    from .sessions import models as _sessions  # noqa: F401
    from .tokens import models as _tokens  # noqa: F401


class Statements:
    """One statement that writes, outside an explicit transaction.

    On PostgreSQL it runs in autocommit mode: a single statement is atomic by itself, so
    the BEGIN and COMMIT round trips are saved. SQLite runs it in a transaction of its
    own. Reads go through :meth:`servicekit.db.Database.fetch`; work of several
    statements through a session and its transaction."""

    def __init__(self, database: Database) -> None:
        engine = database.engine
        self.postgresql = engine.dialect.name == "postgresql"
        self._engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.postgresql else engine
        )

    async def run(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        """The statement's returned rows (none for a statement without RETURNING)."""
        params = params or {}
        if self.postgresql:
            async with self._engine.connect() as connection:
                result = await connection.execute(statement, params)
                return result.mappings().all() if result.returns_rows else []
        async with self._engine.begin() as connection:
            result = await connection.execute(statement, params)
            return result.mappings().all() if result.returns_rows else []
