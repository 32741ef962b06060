"""Async database access: SQLite with WAL, or PostgreSQL via asyncpg.

Writes and multi-statement reads use an ORM session (``SessionDep``; the service function
owns the transaction). The hottest single-statement reads use :meth:`Database.fetch`:
SQLAlchemy Core statements compiled once, run on PostgreSQL as prepared statements on
leased asyncpg connections (:class:`DriverConnections`). Only public SQLAlchemy API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

from cachetools import LRUCache
from fastapi import Depends, Request
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic_core import from_json
from sqlalchemy import Dialect, event, text
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.base import Executable

from .errors import lost_database_connection


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout.

    JSON columns are parsed with pydantic-core's parser: the same values as the standard
    library's, at a fraction of its cost."""
    kwargs.setdefault("json_deserializer", from_json)
    if is_sqlite(url):
        ensure_sqlite_dir(url)
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
    # At most 30 connections, all kept: overflow connections are closed on return, which
    # under steady concurrency means a new PostgreSQL backend for many requests.
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
    pings. A server restart while connections are busy: the failing statement marks the
    pool invalid, so every older connection is replaced.
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
    """Single statements on the asyncpg driver of pooled connections (PostgreSQL), leased
    from SQLAlchemy's pool for a while rather than checked out per statement.

    Prepared statements (asyncpg's cache per connection), no transaction (a single
    statement commits by itself), one client span per statement. A leased connection runs
    one statement at a time and goes back to the idle list (most recently used first);
    after ``idle_seconds`` idle it is returned to the pool (whose liveness ping after
    idleness then applies), at most ``max_idle`` are kept, and all are returned when the
    pool runs out (a session may be waiting) and at :meth:`close`. A connection whose
    statement was cancelled or lost is invalidated; after a loss every idle one goes back
    too, so the pool replaces those opened before it (a server restart takes them all).
    ``max_overflow``: the pool's own setting, to know when it is exhausted."""

    def __init__(
        self,
        engine: AsyncEngine,
        idle_seconds: float = 1.0,
        max_idle: int = 16,
        max_overflow: int = 0,
    ):
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.max_idle = max_idle
        self.max_overflow = max_overflow
        self.idle: list[tuple[AsyncConnection, float]] = []  # (lease, last used), oldest first
        self.timer: asyncio.TimerHandle | None = None
        self.closing: set[asyncio.Task[Any]] = set()
        # A checkout that leaves the pool empty (a session, or another lease) may be
        # followed by one that would wait: idle leases go back to the pool then.
        event.listen(engine.sync_engine, "checkout", self.on_checkout)

    def on_checkout(self, _dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if self.idle and self.pool_exhausted():
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # a checkout outside the event loop's thread
                return
            self.release_idle(0)

    async def fetch(self, statement: str, *args: Any) -> list[Any]:
        """The records of one statement; the driver's own exception when it fails."""
        # A child of the request's span; its error status names the exception's type only,
        # as a database's message can quote the statement's values.
        tracer = trace.get_tracer("servicekit.db")
        with tracer.start_as_current_span(
            statement.split(None, 1)[0],
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": statement},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                return await self._fetch(statement, args)
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    async def _fetch(self, statement: str, args: tuple[Any, ...]) -> list[Any]:
        lease = self.idle.pop()[0] if self.idle else await self.engine.connect()
        driver = (await lease.get_raw_connection()).driver_connection
        assert driver is not None  # a checked-out connection has one
        try:
            records: list[Any] = await driver.fetch(statement, *args)
        except Exception as exc:
            if driver.is_closed() or lost_database_connection(exc):
                await lease.invalidate()
                self.release_idle(0)
            else:
                self.put_back(lease)
            raise
        except BaseException:  # cancelled mid-statement: state unknown
            await lease.invalidate()
            raise
        self.put_back(lease)
        return records

    def put_back(self, lease: AsyncConnection) -> None:
        if self.pool_exhausted():
            # Every pooled connection is out: a session may be waiting for one, so the
            # idle leases (and this one) go back to the pool rather than sit here.
            self.release_idle(0)
            self.release(lease)
            return
        self.idle.append((lease, time.monotonic()))
        if len(self.idle) > self.max_idle:
            self.release(self.idle.pop(0)[0])
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.idle_seconds, self.on_timer)

    def pool_exhausted(self) -> bool:
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):  # no fixed size (NullPool, static pools)
            return False
        return pool.checkedout() >= pool.size() + max(0, self.max_overflow)

    def release(self, lease: AsyncConnection) -> None:
        task = asyncio.get_running_loop().create_task(lease.close())
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    def release_idle(self, idle_seconds: float) -> None:
        """Give back the connections idle for at least ``idle_seconds``."""
        cutoff = time.monotonic() - idle_seconds
        while self.idle and self.idle[0][1] <= cutoff:
            self.release(self.idle.pop(0)[0])

    def on_timer(self) -> None:
        self.timer = None
        self.release_idle(self.idle_seconds)
        if self.idle:
            delay = max(0.05, self.idle[0][1] + self.idle_seconds - time.monotonic())
            self.timer = asyncio.get_running_loop().call_later(delay, self.on_timer)

    async def close(self) -> None:
        """Give every idle connection back to the pool (application shutdown)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        idle, self.idle = self.idle, []
        for lease, _used in idle:
            await lease.close()
        if self.closing:
            await asyncio.gather(*self.closing, return_exceptions=True)


@dataclass(frozen=True)
class Compiled:
    """A Core statement compiled for asyncpg: its SQL, the names of its positional
    parameters, the statement's own values and the types' bind processors."""

    sql: str
    names: tuple[str, ...]
    defaults: dict[str, Any]
    processors: dict[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> Compiled:
        compiled: Any = cast(Any, statement).compile(dialect=dialect)
        processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        return cls(
            compiled.string,
            tuple(compiled.positiontup or ()),
            # The statement's own values (literals become anonymous bind parameters).
            {n: b.effective_value for n, b in compiled.binds.items() if not b.required},
            processors,
        )

    def arguments(self, params: Mapping[str, Any] | None) -> list[Any]:
        values = {**self.defaults, **params} if params else self.defaults
        processors = self.processors
        return [
            processors[name](values[name]) if name in processors else values[name]
            for name in self.names
        ]


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
        self.on_driver = (
            self.engine.dialect.name == "postgresql" and self.engine.dialect.driver == "asyncpg"
        )
        # Statements are module-level or built once per shape, so this stays small.
        self.compiled: LRUCache[Executable, Compiled] = LRUCache(maxsize=1024)
        self.driver = DriverConnections(
            self.engine, max_overflow=int(engine_kwargs.get("max_overflow", 0))
        )

    async def fetch(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Any]:
        """The rows of one read-only statement, outside any transaction; each row is
        addressed by column name (``row["name"]``) on both databases.

        Pass module-level statements whose varying values are ``bindparam``s: on
        PostgreSQL each is compiled once and runs prepared on a leased asyncpg connection.
        SQLite runs it through a session. Errors surface as SQLAlchemy's ``DBAPIError``
        either way (a lost connection is a 503)."""
        if not self.on_driver:
            async with self.read_sessionmaker() as session:
                return (await session.execute(statement, dict(params or {}))).mappings().all()
        compiled = self.compiled.get(statement)
        if compiled is None:
            compiled = self.compiled[statement] = Compiled.of(statement, self.engine.dialect)
        try:
            return await self.driver.fetch(compiled.sql, *compiled.arguments(params))
        except Exception as exc:
            raise DBAPIError(
                compiled.sql, None, exc, connection_invalidated=lost_database_connection(exc)
            ) from exc

    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Any]:
        """One statement that writes, committed by itself; the rows it returns
        (``RETURNING``), addressed by column name, or none.

        On PostgreSQL it takes :meth:`fetch`'s path: a single statement outside a
        transaction is atomic and commits by itself, so no BEGIN/COMMIT round trips.
        SQLite runs it in a transaction of its own. Work of several statements belongs in
        a session's transaction."""
        if self.on_driver:
            return await self.fetch(statement, params)
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(statement, dict(params or {}))
            if isinstance(result, CursorResult) and not result.returns_rows:
                return []
            return result.mappings().all()

    async def ping(self) -> None:
        """Readiness: the database answers ``SELECT 1`` within two seconds."""
        async with asyncio.timeout(2.0), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.driver.close()
        await self.engine.dispose()


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Database]:
    """A database for one command-line job (``python -m <part> …``), disposed at its end."""
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()


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
