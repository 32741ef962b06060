"""The identity service's own table metadata (never shared with other services)."""

from __future__ import annotations

import asyncio
import time
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


class DriverConnections:
    """Single statements on pooled connections' asyncpg driver connections (PostgreSQL),
    with the connections leased from SQLAlchemy's pool for a short while instead of being
    checked out and returned per statement (two greenlet hops and the pool's bookkeeping,
    ~0.1 ms of CPU per statement).

    Prepared statements (asyncpg's cache per connection), no
    transaction (one statement commits by itself), a client span per statement. A
    connection runs one statement at a time: it is taken from the idle list (most
    recently used first) or checked out of the pool, and put back when its statement
    returned. Connections idle for ``idle_seconds`` go back to SQLAlchemy's pool (so its
    liveness ping after idleness applies again), at most ``max_idle`` are kept, all go
    back at :meth:`close`; a connection whose statement was cancelled or that broke is
    invalidated (its state is unknown)."""

    def __init__(self, engine: AsyncEngine, idle_seconds: float = 1.0, max_idle: int = 16):
        self._engine = engine
        self._idle_seconds = idle_seconds
        self._max_idle = max_idle
        self._idle: list[tuple[Any, float]] = []  # (connection, last used), oldest first
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[Any]] = set()

    async def fetch(self, statement: str, *args: Any) -> list[Any]:
        with _TRACER.start_as_current_span(
            statement.split(None, 1)[0],
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": statement},
        ):
            if self._idle:
                raw = self._idle.pop()[0]
            else:
                raw = await greenlet_spawn(self._engine.sync_engine.raw_connection)
            driver = raw.driver_connection
            assert driver is not None  # a checked-out connection has one
            try:
                records: list[Any] = await driver.fetch(statement, *args)
            except Exception:
                if driver.is_closed():
                    await greenlet_spawn(raw.invalidate)
                else:
                    self._put_back(raw)
                raise
            except BaseException:  # cancelled mid-statement: state unknown
                await greenlet_spawn(raw.invalidate)
                raise
            self._put_back(raw)
        return records

    def _put_back(self, raw: Any) -> None:
        self._idle.append((raw, time.monotonic()))
        if len(self._idle) > self._max_idle:
            self._release(self._idle.pop(0)[0])
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._idle_seconds, self._on_timer)

    def _release(self, raw: Any) -> None:
        task = asyncio.get_running_loop().create_task(greenlet_spawn(raw.close))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _on_timer(self) -> None:
        self._timer = None
        cutoff = time.monotonic() - self._idle_seconds
        while self._idle and self._idle[0][1] <= cutoff:
            self._release(self._idle.pop(0)[0])
        if self._idle:
            delay = max(0.05, self._idle[0][1] - cutoff)
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


class HeldConnection:
    """A pooled connection kept checked out by a writer that sends one statement at a time
    (PostgreSQL), for the hottest single-statement path (the ``private_key_jwt`` one-time
    id batches): like :class:`DriverConnections` — asyncpg driver connection, prepared statement,
    autocommit, traced span — without the pool checkout and return per statement
    (~0.2 ms of CPU).

    The connection goes back to the pool after ``idle_seconds`` without a statement (so
    the pool's liveness ping applies again before the next use), when :meth:`close` is
    called (application shutdown), and is invalidated if a statement raised or was
    cancelled (its state is then unknown). Callers must not overlap statements."""

    def __init__(self, engine: AsyncEngine, idle_seconds: float = 1.0) -> None:
        self._engine = engine
        self._idle = idle_seconds
        self._raw: Any = None
        self._last_used = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self._release: asyncio.Task[Any] | None = None

    async def fetch(self, statement: str, *args: Any) -> list[Any]:
        with _TRACER.start_as_current_span(
            statement.split(None, 1)[0],
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": statement},
        ):
            self._busy = True
            try:
                if self._raw is None:
                    self._raw = await greenlet_spawn(self._engine.sync_engine.raw_connection)
                raw = self._raw
                driver = raw.driver_connection
                assert driver is not None  # a checked-out connection has one
                try:
                    records: list[Any] = await driver.fetch(statement, *args)
                except BaseException:
                    self._raw = None
                    await greenlet_spawn(raw.invalidate)
                    raise
            finally:
                self._busy = False
            self._last_used = time.monotonic()
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._idle, self._on_timer)
        return records

    def _on_timer(self) -> None:
        self._timer = None
        if self._raw is None:
            return
        idle = time.monotonic() - self._last_used
        if self._busy or idle < self._idle:
            self._timer = asyncio.get_running_loop().call_later(
                max(0.05, self._idle - idle), self._on_timer
            )
            return
        raw, self._raw = self._raw, None
        self._release = asyncio.get_running_loop().create_task(greenlet_spawn(raw.close))

    async def close(self) -> None:
        """Give the connection back to the pool (waits for no statement: call when idle)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        raw, self._raw = self._raw, None
        if raw is not None:
            await greenlet_spawn(raw.close)
