"""Async database access (SQLite with WAL, or PostgreSQL via asyncpg) and Alembic wiring.

Each service owns its database and its migrations package; :func:`upgrade` runs that
package's Alembic migrations programmatically, so no ``alembic.ini`` path juggling is
needed at start-up, in tests or in the migration job.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic_core import from_json
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.base import Executable
from sqlalchemy.util import greenlet_spawn

from .errors import lost_database_connection
from .spans import SpanRecorder

_DB_SPANS: tuple[object, SpanRecorder] | None = None  # (tracer provider, its recorder)


def _db_spans() -> SpanRecorder:
    """The recorder of the statement spans, on the global tracer provider (until one is
    set, OpenTelemetry's proxy: spans that record nothing)."""
    global _DB_SPANS
    provider = trace.get_tracer_provider()
    if _DB_SPANS is None or _DB_SPANS[0] is not provider:
        _DB_SPANS = (provider, SpanRecorder(provider.get_tracer("servicekit.db")))
    return _DB_SPANS[1]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout.

    JSON columns are parsed with pydantic-core's parser (the same values as the standard
    library's, about four times faster: on a page of offerings their small JSON arrays
    were a fifth of the request's CPU)."""
    kwargs.setdefault("json_deserializer", from_json)
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # aiosqlite starts transactions lazily; we issue BEGIN IMMEDIATE ourselves
            # (below) so a transaction takes the write lock up front and waits on busy_timeout
            # instead of failing with "database is locked" on upgrade; WAL keeps readers free.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    ping_after_idle = kwargs.pop("ping_after_idle_seconds", PING_AFTER_IDLE_SECONDS)
    # At most 30 connections as before, but all kept: overflow connections are closed on
    # return, and under steady concurrency that meant a new PostgreSQL backend (fork,
    # authentication, statement cache) for a large share of the requests.
    kwargs.setdefault("pool_size", 30)
    kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.driver == "asyncpg":
        _wrap_connect_errors(engine)
    if not kwargs.get("pool_pre_ping"):
        _ping_idle_connections(engine, ping_after_idle)
    return engine


def _wrap_connect_errors(engine: AsyncEngine) -> None:
    """asyncpg errors on opening a connection as DB-API ``OperationalError`` (as psycopg
    raises them), so that SQLAlchemy wraps them in its ``DBAPIError`` like every other
    database error.

    SQLAlchemy's asyncpg adapter translates errors of statements but lets those of
    ``asyncpg.connect`` through as they are; a server that is shutting down or starting up
    (a restart) refuses new connections with ``CannotConnectNowError`` (57P03), which then
    reached no database error handler and was answered 500 instead of 503."""
    import asyncpg

    dbapi = engine.dialect.loaded_dbapi

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except asyncpg.PostgresError as exc:
            error: Any = dbapi.OperationalError(f"{type(exc).__name__}: {exc}")
            error.pgcode = error.sqlstate = getattr(exc, "sqlstate", None)
            raise error from exc


# A pooled connection that was in use this recently is trusted without a ping (as
# HikariCP's aliveBypassWindowMs does); one idle for longer is pinged on checkout.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling without a ping on every checkout.

    SQLAlchemy's ``pool_pre_ping`` costs three round trips per checkout with asyncpg
    (BEGIN, ``;``, ROLLBACK) — half of a simple read. Here only connections idle for more
    than ``idle_seconds`` are pinged; a dead one raises ``DisconnectionError`` so the pool
    discards it and checks out (or opens) another, as SQLAlchemy documents for custom
    pings. A server restart while connections are busy is handled as before: the failing
    statement marks the pool invalid, so every older connection is replaced.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["servicekit_last_used"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get("servicekit_last_used")
        if last_used is None or time.monotonic() - last_used <= idle_seconds:
            return  # fresh connection (just connected) or recently in use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("pooled connection is gone") from exc


class DriverConnections:
    """Single statements on pooled connections' asyncpg driver connections (PostgreSQL),
    leased from SQLAlchemy's pool for a short while instead of being checked out and
    returned per statement (two greenlet hops and the pool's bookkeeping: about 0.1 ms of
    CPU, as much as a short statement itself).

    Prepared statements (asyncpg's cache per connection), no transaction (a single
    statement commits by itself), one client span per statement. A connection runs one
    statement at a time: it is taken from the idle list (most recently used first) or
    checked out of the pool, and put back when its statement returned. Connections idle
    for ``idle_seconds`` go back to SQLAlchemy's pool (so its liveness ping after
    idleness applies again), at most ``max_idle`` are kept, all go back at :meth:`close`
    and whenever every pooled connection is out (a session may be waiting for one).
    A connection whose statement was cancelled is invalidated (its protocol state is
    unknown); a lost one too, and then every idle one goes back to the pool, which
    replaces those opened before the loss (a server restart takes them all)."""

    def __init__(self, engine: AsyncEngine, idle_seconds: float = 1.0, max_idle: int = 16):
        self._engine = engine
        self._idle_seconds = idle_seconds
        self._max_idle = max_idle
        self._idle: list[tuple[Any, float]] = []  # (connection, last used), oldest first
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[Any]] = set()
        # A checkout that leaves the pool empty (a session, or another lease) may be
        # followed by one that would wait: idle leases go back to the pool then.
        event.listen(engine.sync_engine, "checkout", self._on_checkout)

    def _on_checkout(self, _dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if self._idle and self._pool_exhausted():
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # a checkout outside the event loop's thread
                return
            self._release_idle(0)

    async def fetch(self, statement: str, *args: Any) -> list[Any]:
        """The records of one statement; the driver's own exception when it fails."""
        # A lean client span (servicekit.spans: a quarter of the SDK's CPU per span), a
        # child of the request's span. Its error status names the exception's type only:
        # a database's message can quote the values of the statement.
        span = _db_spans().start(
            statement.split(None, 1)[0],
            trace.get_current_span().get_span_context(),
            SpanKind.CLIENT,
            {"db.system": "postgresql", "db.statement": statement},
        )
        try:
            if self._idle:
                raw = self._idle.pop()[0]
            else:
                raw = await greenlet_spawn(self._engine.sync_engine.raw_connection)
            driver = raw.driver_connection
            assert driver is not None  # a checked-out connection has one
            try:
                records: list[Any] = await driver.fetch(statement, *args)
            except Exception as exc:
                if driver.is_closed() or lost_database_connection(exc):
                    await greenlet_spawn(raw.invalidate)
                    self._release_idle(0)
                else:
                    self._put_back(raw)
                raise
            except BaseException:  # cancelled mid-statement: state unknown
                await greenlet_spawn(raw.invalidate)
                raise
            self._put_back(raw)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()
        return records

    def _put_back(self, raw: Any) -> None:
        if self._pool_exhausted():
            # Every pooled connection is out: a session may be waiting for one, so the
            # idle leases (and this one) go back to the pool rather than sit here.
            self._release_idle(0)
            self._release(raw)
            return
        self._idle.append((raw, time.monotonic()))
        if len(self._idle) > self._max_idle:
            self._release(self._idle.pop(0)[0])
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._idle_seconds, self._on_timer)

    def _pool_exhausted(self) -> bool:
        pool = self._engine.sync_engine.pool
        if not isinstance(pool, QueuePool):  # no fixed size (NullPool, static pools)
            return False
        return pool.checkedout() >= pool.size() + max(0, pool._max_overflow)

    def _release(self, raw: Any) -> None:
        task = asyncio.get_running_loop().create_task(greenlet_spawn(raw.close))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _release_idle(self, idle_seconds: float) -> None:
        """Give back the connections idle for at least ``idle_seconds``."""
        cutoff = time.monotonic() - idle_seconds
        while self._idle and self._idle[0][1] <= cutoff:
            self._release(self._idle.pop(0)[0])

    def _on_timer(self) -> None:
        self._timer = None
        self._release_idle(self._idle_seconds)
        if self._idle:
            delay = max(0.05, self._idle[0][1] + self._idle_seconds - time.monotonic())
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    async def close(self) -> None:
        """Give every idle connection back to the pool (application shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle, self._idle = self._idle, []
        for raw, _used in idle:
            await greenlet_spawn(raw.close)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


class Database:
    """Engine plus session factory; one per service process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads whose answer comes from one statement need no transaction around it: on
        # PostgreSQL they run in autocommit (no BEGIN/ROLLBACK round trips; the
        # statement still sees one consistent snapshot). SQLite keeps its transactions.
        reads = (
            self.engine
            if self.engine.dialect.name == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.read_sessionmaker = async_sessionmaker(reads, expire_on_commit=False)

        # Compiled read statements for fetch(): id(statement) -> (statement, sql, names,
        # bind processors); the statement is kept so its id cannot be reused meanwhile.
        self._compiled: dict[int, tuple[Any, str, tuple[str, ...], dict[str, Any], Any]] = {}
        self.driver = DriverConnections(self.engine)

    async def fetch(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Any]:
        """The rows of one read-only statement, outside any transaction; each row is
        addressed by column name (``row["name"]``) on both databases.

        For the hottest reads: on PostgreSQL the statement is compiled once (pass
        module-level statements whose varying values are ``bindparam``s) and runs on a
        leased connection's asyncpg driver (:class:`DriverConnections`: prepared,
        autocommit, no pool checkout per statement), about a tenth of the CPU of the same
        statement through an ORM session. SQLite runs it through SQLAlchemy as usual.
        Errors surface as SQLAlchemy's ``DBAPIError`` either way (a lost connection is a
        503)."""
        if self.engine.dialect.name != "postgresql" or self.engine.dialect.driver != "asyncpg":
            async with self.read_sessionmaker() as session:
                return (await session.execute(statement, dict(params or {}))).mappings().all()
        _statement, sql, names, defaults, processors = self._compile(statement)
        values = {**defaults, **params} if params else defaults
        args = [
            processors[name](values[name]) if name in processors else values[name] for name in names
        ]
        try:
            return await self.driver.fetch(sql, *args)
        except Exception as exc:
            raise DBAPIError(
                sql, None, exc, connection_invalidated=lost_database_connection(exc)
            ) from exc

    def _compile(
        self, statement: Executable
    ) -> tuple[Any, str, tuple[str, ...], dict[str, Any], Any]:
        entry = self._compiled.get(id(statement))
        if entry is None or entry[0] is not statement:
            # SQLAlchemy documents these attributes on SQLCompiler; the public
            # construct_params() would insist on values for the required parameters.
            compiled: Any = cast(Any, statement).compile(dialect=self.engine.dialect)
            entry = (
                statement,
                compiled.string,
                tuple(compiled.positiontup or ()),
                # The statement's own values (literals become anonymous bind parameters).
                {
                    name: bind.effective_value
                    for name, bind in compiled.binds.items()
                    if not bind.required
                },
                dict(compiled._bind_processors),
            )
            if len(self._compiled) >= 1024:  # statements built per call: keep it bounded
                self._compiled.clear()
            self._compiled[id(statement)] = entry
        return entry

    async def ping(self) -> None:
        """Readiness: the database answers ``SELECT 1`` within two seconds."""
        async with asyncio.timeout(2.0), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.driver.close()
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one session per request, closed afterwards.

    Service functions own their transactions (``async with session.begin()``)."""
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_database(request: Request) -> Database:
    """FastAPI dependency: the service's :class:`Database` (for :meth:`Database.fetch`)."""
    return cast(Database, request.app.state.database)


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency for reads that answer from a single SQL statement.

    On PostgreSQL the session runs in autocommit: each statement is its own snapshot,
    so use it only where one statement gives the answer (or where statements need not
    agree). Never write through it."""
    database: Database = request.app.state.database
    async with database.read_sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


def _script_location(migrations_package: str) -> str:
    """Folder of a migrations package (or the folder itself when given a path)."""
    if os.path.isdir(migrations_package):
        return migrations_package
    package = importlib.import_module(migrations_package)
    return os.path.dirname(package.__file__ or "")


def migration_head(migrations_package: str) -> str | None:
    """The newest revision of a service's migrations.

    Read from the revision files' literal ``revision`` / ``down_revision`` assignments,
    so a serving process does not import Alembic (~10 MB) for its readiness check;
    anything unusual (several heads, computed values) is left to Alembic itself."""
    head = _single_head(_script_location(migrations_package))
    if head is not None:
        return head
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", _script_location(migrations_package))
    return ScriptDirectory.from_config(config).get_current_head()


def _single_head(script_location: str) -> str | None:
    """The one revision no other revision builds on, or None if that is not clear."""
    import ast

    versions = Path(script_location) / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
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
            revisions.add(revision)
            downs = down if isinstance(down, (tuple, list)) else (down,)
            parents.update(d for d in downs if isinstance(d, str))
    except (OSError, SyntaxError, ValueError):
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


class SchemaNotCurrent(RuntimeError):
    """The database is not migrated to the code's newest revision."""


def schema_check(database: Database, head: str | None) -> Callable[[], Awaitable[None]]:
    """Readiness check: the database schema is at ``head`` (migrations have run), so a
    rollout that starts pods before the migration job finished never serves traffic."""

    async def check() -> None:
        async with asyncio.timeout(2.0), database.engine.connect() as conn:
            try:
                current = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
            except DBAPIError as exc:
                raise SchemaNotCurrent("no alembic_version table") from exc
        if current != head:
            raise SchemaNotCurrent(f"schema at {current}, code expects {head}")

    return check


def upgrade(migrations_package: str, url: str, revision: str = "head") -> None:
    """Run a service's Alembic migrations (synchronously; call before serving)."""
    import importlib

    from alembic import command
    from alembic.config import Config

    package = importlib.import_module(migrations_package)
    script_location = os.path.dirname(package.__file__ or "")
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
    config = Config()
    config.set_main_option("script_location", script_location)
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
