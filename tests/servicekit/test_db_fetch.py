"""``Database.fetch``: one read statement, rows by column name, the same answers on SQLite
and PostgreSQL (where it runs on the asyncpg driver); a lost connection is SQLAlchemy's
``DBAPIError`` flagged as invalidated (the services answer 503), and a broken connection is
not given back to the pool."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from servicekit.db import Database
from servicekit.errors import lost_database_connection
from servicekit.telemetry import setup_tracing
from servicekit.testing import fresh_database_url
from servicekit.testing import test_database_base_url as postgres_url

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("size", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
IDS = [uuid.UUID(int=i + 1) for i in range(5)]
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

BY_ID = select(things).where(things.c.id == bindparam("id"))
# A literal ("tool") becomes an anonymous bind parameter that fetch must fill in itself.
TOOLS_PAGE = (
    select(things, func.count().over().label("total"))
    .where(things.c.kind == "tool", things.c.size >= bindparam("min_size"))
    .order_by(things.c.name)
    .limit(bindparam("limit"))
)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database_url("fetch", tmp_path) as url:
        database = Database(url, **({"pool_size": 2} if postgres_url() else {}))
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                things.insert(),
                [
                    {"id": IDS[i], "name": f"thing {i}", "kind": "tool" if i % 2 else "toy",
                     "tags": ["a", str(i)], "size": i, "at": AT}
                    for i in range(5)
                ],
            )  # fmt: skip
        try:
            yield database
        finally:
            await database.dispose()


async def test_rows_by_column_name_with_typed_values(database: Database) -> None:
    rows = await database.fetch(BY_ID, {"id": IDS[3]})
    assert len(rows) == 1
    row = dict(rows[0])
    assert row["id"] == IDS[3]
    assert isinstance(row["id"], uuid.UUID)
    assert row["name"] == "thing 3"
    assert row["tags"] == ["a", "3"]  # JSON decoded
    assert row["at"].replace(tzinfo=UTC) == AT
    assert await database.fetch(BY_ID, {"id": uuid.UUID(int=99)}) == []


async def test_literals_and_bind_parameters_of_a_reused_statement(database: Database) -> None:
    # Compiled once, run with different values: the literal stays, the parameters change.
    first = await database.fetch(TOOLS_PAGE, {"min_size": 0, "limit": 10})
    assert [r["name"] for r in first] == ["thing 1", "thing 3"]
    assert {r["total"] for r in first} == {2}
    second = await database.fetch(TOOLS_PAGE, {"min_size": 2, "limit": 10})
    assert [r["name"] for r in second] == ["thing 3"]
    limited = await database.fetch(TOOLS_PAGE, {"min_size": 0, "limit": 1})
    assert [r["name"] for r in limited] == ["thing 1"]


async def test_a_missing_parameter_is_an_error_not_a_silent_null(database: Database) -> None:
    with pytest.raises(Exception, match="id") as raised:
        await database.fetch(BY_ID, {})
    assert raised.value is not None


@pytest.mark.skipif(
    not postgres_url(), reason="the driver path is PostgreSQL's (TEST_DATABASE_URL)"
)
async def test_a_killed_connection_is_a_lost_connection_and_is_replaced(
    database: Database,
) -> None:
    slow = text("SELECT pg_sleep(5), 1 AS one")
    pids = select(func.pg_backend_pid().label("pid"))
    task = asyncio.create_task(database.fetch(slow))
    # Find the backend running the sleep and terminate it, as an administrator or a
    # failover would (autocommit: pg_stat_activity is a snapshot per transaction).
    autocommit = database.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as admin:
        for _ in range(100):
            found = (
                await admin.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE query LIKE 'SELECT pg_sleep(5)%' AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar()
            if found:
                break
            await asyncio.sleep(0.02)
        assert found, "the sleeping statement never showed up"
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": found})
    with pytest.raises(DBAPIError) as raised:
        await task
    assert lost_database_connection(raised.value)
    # The dead connection was not given back: the next statements run on live ones.
    for _ in range(3):
        rows = await database.fetch(pids)
        assert rows[0]["pid"] != found


@pytest.mark.skipif(
    not postgres_url(), reason="the driver path is PostgreSQL's (TEST_DATABASE_URL)"
)
async def test_a_statement_error_is_a_database_error_and_the_connection_stays_usable(
    database: Database,
) -> None:
    bad = select(things.c.size / bindparam("zero", type_=Integer)).where(things.c.id == IDS[1])
    with pytest.raises(DBAPIError) as raised:
        await database.fetch(bad, {"zero": 0})
    assert not lost_database_connection(raised.value)
    (row,) = await database.fetch(BY_ID, {"id": IDS[1]})
    assert row["size"] == 1


@pytest.mark.skipif(
    not postgres_url(), reason="the driver path is PostgreSQL's (TEST_DATABASE_URL)"
)
async def test_each_statement_is_a_client_span_of_the_request_and_errors_name_no_values(
    database: Database,
) -> None:
    setup_tracing("fetch-test", "0")  # the global provider, unless a test set one before
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bad = select(things.c.size / bindparam("zero", type_=Integer)).where(things.c.id == IDS[1])
    try:
        with provider.get_tracer("test").start_as_current_span("request") as request:
            await database.fetch(BY_ID, {"id": IDS[1]})
            with pytest.raises(DBAPIError):
                await database.fetch(bad, {"zero": 0})
    finally:
        exporter.shutdown()  # the provider keeps the processor: it exports nothing more
    ok, failed = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.CLIENT]
    for span in (ok, failed):
        assert span.name == "SELECT"
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
        assert span.context.trace_id == request.get_span_context().trace_id
        assert span.attributes is not None
        assert span.attributes["db.system"] == "postgresql"
        assert "FROM things" in str(span.attributes["db.statement"])
        assert span.end_time is not None
        assert span.start_time is not None
        assert span.end_time >= span.start_time
    assert ok.status.status_code == StatusCode.UNSET
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.status.description == "DivisionByZeroError"
    assert not failed.events  # no exception message: it could quote a statement's values


@pytest.mark.skipif(
    not postgres_url(), reason="the driver path is PostgreSQL's (TEST_DATABASE_URL)"
)
async def test_leased_connections_go_back_when_the_pool_runs_out(database: Database) -> None:
    """Statements lease pooled connections for a while; when every pooled connection is
    out, they are given back at once, so a session never waits for an idle lease."""
    tight = Database(database.url, pool_size=2, max_overflow=0, pool_timeout=0.5)
    try:
        slow = text("SELECT pg_sleep(0.05), 1 AS one")
        await asyncio.gather(tight.fetch(slow), tight.fetch(slow))  # both connections out
        started = asyncio.get_running_loop().time()
        async with tight.sessionmaker() as session:  # waits 0.5 s, then fails, if kept
            assert (await session.execute(text("SELECT 2"))).scalar_one() == 2
            async with tight.sessionmaker() as second:
                assert (await second.execute(text("SELECT 3"))).scalar_one() == 3
        assert asyncio.get_running_loop().time() - started < 0.4
        # One at a time, a lease is kept (the pool has room): the next statement reuses it.
        await tight.fetch(slow)
        assert tight.engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    finally:
        await tight.dispose()


RENAME = (
    things.update()
    .where(things.c.id == bindparam("id_"))
    .values(name=bindparam("name"), tags=bindparam("tags", type_=JSON))
    .returning(things.c.name, things.c.tags)
)
ADD = things.insert().values(
    id=bindparam("id"), name="new", kind="toy", tags=bindparam("tags", type_=JSON), size=9,
    at=bindparam("at", type_=DateTime(timezone=True)),
)  # fmt: skip


async def test_execute_writes_commit_by_themselves_and_return_their_rows(
    database: Database,
) -> None:
    rows = await database.execute(RENAME, {"id_": IDS[2], "name": "renamed", "tags": ["x"]})
    assert [dict(r) for r in rows] == [{"name": "renamed", "tags": ["x"]}]
    assert await database.execute(RENAME, {"id_": uuid.UUID(int=99), "name": "-", "tags": []}) == []
    assert await database.execute(ADD, {"id": uuid.UUID(int=50), "tags": [], "at": AT}) == []
    # Committed: a new connection (another session) sees both writes.
    async with database.sessionmaker() as session:
        names = (await session.execute(select(things.c.name).order_by(things.c.name))).scalars()
        assert "renamed" in list(names)
    assert (await database.fetch(BY_ID, {"id": uuid.UUID(int=50)}))[0]["name"] == "new"
