"""Single statements on the asyncpg driver of leased pool connections (PostgreSQL), for
:meth:`servicekit.db.Database.fetch`: SQLAlchemy Core statements compiled once
(:class:`Compiled`), run as prepared statements (:class:`DriverConnections`). Only public
SQLAlchemy API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Dialect, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.base import Executable

from .errors import lost_database_connection

# The API's proxy: it follows the global tracer provider once one is set, without looking
# a tracer up for every statement.
_TRACER = trace.get_tracer("servicekit.db")


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
        # as a database's message can quote the statement's values. Started and ended
        # here, not made the current span: nothing runs inside it that could be its child,
        # and attaching it to the context would cost about as much as the span itself.
        span = _TRACER.start_span(
            statement.split(None, 1)[0],
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": statement},
            record_exception=False,
        )
        try:
            return await self._fetch(statement, args)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()

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
