"""Alembic wiring: each service owns its migrations package, run programmatically (no
``alembic.ini`` path juggling at start-up, in tests or in the migration job), and a
readiness check that the schema is not behind the code."""

from __future__ import annotations

import ast
import asyncio
import importlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from .db import Database, create_engine, ensure_sqlite_dir, is_sqlite

logger = logging.getLogger("servicekit.migrations")


def script_location(migrations_package: str) -> str:
    """Folder of a migrations package (or the folder itself when given a path)."""
    if os.path.isdir(migrations_package):
        return migrations_package
    package = importlib.import_module(migrations_package)
    return os.path.dirname(package.__file__ or "")


def migration_head(migrations_package: str) -> str | None:
    """The newest revision of a service's migrations."""
    return migration_revisions(migrations_package)[0]


def migration_revisions(migrations_package: str) -> tuple[str | None, frozenset[str]]:
    """The newest revision of a service's migrations and every revision before it.

    Read from the revision files' literal ``revision`` / ``down_revision`` assignments,
    so a serving process does not import Alembic for its readiness check;
    anything unusual (several heads, computed values) is left to Alembic itself."""
    graph = _revision_graph(script_location(migrations_package))
    if graph is not None:
        heads = set(graph) - {down for downs in graph.values() for down in downs}
        if len(heads) == 1:
            (only,) = heads
            return only, frozenset(graph) - heads
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", script_location(migrations_package))
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    older = {s.revision for s in scripts.walk_revisions()} - {head}
    return head, frozenset(r for r in older if r is not None)


def _revision_graph(folder: str) -> dict[str, tuple[str, ...]] | None:
    """Each revision with the revisions it builds on, or None if that is not clear."""
    versions = Path(folder) / "versions"
    graph: dict[str, tuple[str, ...]] = {}
    try:
        files = sorted(versions.glob("*.py"))
        for file in files:
            values: dict[str, Any] = {}
            for node in ast.parse(file.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    target, value = node.target, node.value
                else:
                    continue
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    values[target.id] = ast.literal_eval(value)
            revision, down = values.get("revision"), values.get("down_revision")
            if not isinstance(revision, str):
                return None
            downs = down if isinstance(down, (tuple, list)) else (down,)
            graph[revision] = tuple(d for d in downs if isinstance(d, str))
    except (OSError, SyntaxError, ValueError):
        return None
    return graph


class SchemaNotCurrent(RuntimeError):
    """The database is not migrated to the code's newest revision."""


def schema_check(database: Database, migrations_package: str) -> Callable[[], Awaitable[None]]:
    """Readiness check: the migrations have run at least as far as this code needs.

    Not ready while the schema is missing, empty or at an older revision of this code's
    migrations, so pods started before the migration Job finished never serve. A revision
    this code does not know is a later release's: migrations keep the previous release
    working (deploy/README.md, N-1), so old pods keep serving during a rollout and after
    a rollback; that is logged once, as a warning."""
    head, older = migration_revisions(migrations_package)
    warned: set[str] = set()

    async def check() -> None:
        async with asyncio.timeout(2.0), database.engine.connect() as conn:
            try:
                rows = (
                    (await conn.execute(text("SELECT version_num FROM alembic_version")))
                    .scalars()
                    .all()
                )
            except DBAPIError as exc:
                raise SchemaNotCurrent("no alembic_version table") from exc
        current = set(rows)
        if not current:
            raise SchemaNotCurrent(f"no revision in alembic_version, code expects {head}")
        if current & older:
            raise SchemaNotCurrent(f"schema at {', '.join(sorted(current))}, code expects {head}")
        unknown = current - {head}
        if unknown and not unknown <= warned:
            warned.update(unknown)
            logger.warning(
                "schema at %s, newer than this code's migrations (head %s): serving on it",
                ", ".join(sorted(unknown)),
                head,
            )

    return check


def upgrade(migrations_package: str, url: str, revision: str = "head") -> None:
    """Run a service's Alembic migrations (synchronously; call before serving)."""
    from alembic import command
    from alembic.config import Config

    package = importlib.import_module(migrations_package)
    location = os.path.dirname(package.__file__ or "")
    if is_sqlite(url):
        ensure_sqlite_dir(url)
    config = Config()
    config.set_main_option("script_location", location)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["database_url"] = url
    command.upgrade(config, revision)


def run_migrations_online(target_metadata: Any) -> None:
    """The body of every service's ``migrations/env.py``: async engine, one transaction."""
    from alembic import context

    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    assert url, "no database URL for migrations"

    def do_run(connection: Any) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    connection = config.attributes.get("connection")
    if connection is not None:
        do_run(connection)
        return
    asyncio.run(run())
