"""Async database access: SQLite with WAL, or PostgreSQL via asyncpg.

Writes and multi-statement reads use an ORM session (``SessionDep``; the service function
owns the transaction). The hottest single-statement reads use :meth:`Database.fetch`:
SQLAlchemy Core statements compiled once, run on PostgreSQL as prepared statements on
leased asyncpg connections (:class:`DriverConnections`). Only public SQLAlchemy API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, cast

from cachetools import LRUCache
from fastapi import Depends, Request
from pydantic_core import from_json
from sqlalchemy import event, text
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransactionOrigin
from sqlalchemy.sql.base import Executable

from .dbdriver import Compiled, DriverConnections
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
            # The driver's own transaction handling is off: the begin listener below says
            # which kind of transaction each one is.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A write transaction takes the write lock up front and waits on busy_timeout
            # for it; a deferred one that read first and then writes would fail at once
            # ("database is locked") when another writer committed in between. A read
            # transaction takes no lock: in WAL mode it reads its snapshot beside the writer.
            writes = conn.get_execution_options().get(SQLITE_WRITE_LOCK, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

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


# Execution option of the SQLite engine that write transactions run on (see SqliteSession).
SQLITE_WRITE_LOCK = "servicekit_sqlite_write_lock"


class SqliteSession(Session):
    """A session whose explicit transactions take SQLite's write lock when they begin.

    Service functions write inside ``session.begin()`` (the session never commits an
    autobegun transaction), so an explicit transaction is a write and an autobegun one a
    read. ``get_bind`` (SQLAlchemy's documented hook for routing reads and writes) sends
    the writes to the engine with :data:`SQLITE_WRITE_LOCK` set; both share one pool."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        if self.in_explicit_transaction():
            return self.info[SQLITE_WRITE_LOCK]
        return super().get_bind(*args, **kwargs)

    def in_explicit_transaction(self) -> bool:
        transaction = self.get_transaction()
        return transaction is not None and transaction.origin is SessionTransactionOrigin.BEGIN


class WriteOutsideTransaction(RuntimeError):
    """A write in a session's implicit transaction: it would run without the write lock
    (and never be committed). Writes belong in ``session.begin()``."""


@event.listens_for(SqliteSession, "do_orm_execute")
def _refuse_implicit_writes(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and not (
        cast(SqliteSession, state.session).in_explicit_transaction()
    ):
        raise WriteOutsideTransaction(f"{state.statement} outside session.begin()")


@event.listens_for(SqliteSession, "before_flush")
def _refuse_implicit_flush(session: Session, _context: Any, _instances: Any) -> None:
    changed = session.new or session.dirty or session.deleted
    if changed and not cast(SqliteSession, session).in_explicit_transaction():
        raise WriteOutsideTransaction("a flush of changed objects outside session.begin()")


class Database:
    """Engine plus session factory; one per service process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        if self.engine.dialect.name == "sqlite":
            writes = self.engine.execution_options(**{SQLITE_WRITE_LOCK: True})
            self.sessionmaker = async_sessionmaker(
                self.engine,
                expire_on_commit=False,
                sync_session_class=SqliteSession,
                info={SQLITE_WRITE_LOCK: writes.sync_engine},
            )
            # Reads (autobegun transactions) take no write lock on SQLite.
            self.read_sessionmaker = self.sessionmaker
        else:
            self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
            # Reads whose answer comes from one statement need no transaction around it:
            # on PostgreSQL they run in autocommit (no BEGIN/ROLLBACK round trips; the
            # statement still sees one consistent snapshot).
            self.read_sessionmaker = async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
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


@asynccontextmanager
async def transaction(session: AsyncSession, *, dry_run: bool = False) -> AsyncIterator[None]:
    """``session.begin()``: committed at the end, or rolled back when ``dry_run``, so a
    preview runs every check and write of the real change and keeps none of them. An
    error rolls back either way."""
    async with session.begin() as began:
        yield
        if dry_run:
            await began.rollback()


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
