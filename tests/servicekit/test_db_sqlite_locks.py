"""SQLite: a write transaction (``session.begin()``) takes the write lock when it begins,
so concurrent writers queue on busy_timeout instead of failing; a read (an autobegun
transaction, ``Database.fetch``) takes no lock and reads beside a writer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text, update
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import Database, WriteOutsideTransaction

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", String(50), nullable=False),
)


class Base(DeclarativeBase):
    pass


class Note(Base):
    __table__ = notes


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(notes).values(text="first"))
    try:
        yield database
    finally:
        await database.dispose()


def file_of(database: Database) -> str:
    name = database.engine.url.database
    assert name
    return name


def write_lock_is_free(path: str) -> bool:
    """Whether another connection could take the write lock right now (no waiting)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        other.close()


async def test_a_write_transaction_holds_the_write_lock_from_its_first_statement(
    database: Database,
) -> None:
    async with database.sessionmaker() as session, session.begin():
        # Only a read so far: a deferred BEGIN would hold no lock here, and the later
        # write could then fail when another writer committed in between.
        await session.execute(select(func.count()).select_from(notes))
        assert not write_lock_is_free(file_of(database))
    assert write_lock_is_free(file_of(database))


async def test_a_read_takes_no_lock_and_reads_beside_a_writer(database: Database) -> None:
    async with database.sessionmaker() as writer, writer.begin():
        await writer.execute(insert(notes).values(text="not yet committed"))
        # The writer holds the lock; a read in the same task would wait for it (and
        # time out) if reads took it too.
        async with asyncio.timeout(5), database.sessionmaker() as reader:
            seen = (await reader.execute(select(func.count()).select_from(notes))).scalar_one()
            assert seen == 1  # the committed state: WAL snapshot
            assert write_lock_is_free(file_of(database)) is False
        async with asyncio.timeout(5):
            rows = await database.fetch(text("SELECT count(*) AS n FROM notes"))
        assert rows[0]["n"] == 1
    rows = await database.fetch(text("SELECT count(*) AS n FROM notes"))
    assert rows[0]["n"] == 2


async def test_an_autobegun_read_leaves_the_lock_free(database: Database) -> None:
    async with database.sessionmaker() as session:
        await session.execute(select(func.count()).select_from(notes))
        assert session.in_transaction()
        assert write_lock_is_free(file_of(database))


async def test_concurrent_read_then_write_transactions_all_commit(database: Database) -> None:
    # Each reads the count and then writes: with deferred transactions some would fail
    # with "database is locked" (their snapshot went stale); with the lock taken at
    # BEGIN they queue and every one commits.
    async def read_then_write(i: int) -> None:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(select(func.count()).select_from(notes))
            await asyncio.sleep(0.01)
            await session.execute(insert(notes).values(text=f"writer {i}"))

    await asyncio.gather(*(read_then_write(i) for i in range(8)))
    rows = await database.fetch(text("SELECT count(*) AS n FROM notes"))
    assert rows[0]["n"] == 9


async def test_a_write_outside_session_begin_is_refused(database: Database) -> None:
    # It would run without the write lock and never be committed.
    async with database.sessionmaker() as session:
        with pytest.raises(WriteOutsideTransaction):
            await session.execute(update(notes).values(text="changed"))
        await session.rollback()
        session.add(Note(text="added"))
        with pytest.raises(WriteOutsideTransaction):
            await session.flush()
    rows = await database.fetch(text("SELECT text FROM notes"))
    assert [row["text"] for row in rows] == ["first"]
