"""``transaction``: a session's transaction that is committed, or rolled back at its end
for a dry run (which still sees its own writes inside); an error rolls back either way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database, transaction
from servicekit.testing import fresh_database_url

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", String(50), nullable=False),
)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database_url("transaction", tmp_path) as url:
        database = Database(url)
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        try:
            yield database
        finally:
            await database.dispose()


async def count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(notes))).scalar_one()


async def test_the_change_is_committed(database: Database) -> None:
    async with database.sessionmaker() as session:
        async with transaction(session):
            await session.execute(insert(notes).values(text="kept"))
        assert not session.in_transaction()
    async with database.sessionmaker() as session, session.begin():
        assert await count(session) == 1


async def test_a_dry_run_sees_its_writes_and_keeps_none(database: Database) -> None:
    async with database.sessionmaker() as session:
        async with transaction(session, dry_run=True):
            await session.execute(insert(notes).values(text="previewed"))
            assert await count(session) == 1
        assert not session.in_transaction()
        # The session is usable again afterwards.
        async with transaction(session):
            assert await count(session) == 0


async def test_a_dry_run_left_early_keeps_nothing(database: Database) -> None:
    async def preview(session: AsyncSession) -> int:
        async with transaction(session, dry_run=True):
            await session.execute(insert(notes).values(text="previewed"))
            return await count(session)

    async with database.sessionmaker() as session:
        assert await preview(session) == 1
        assert not session.in_transaction()
    async with database.sessionmaker() as session, session.begin():
        assert await count(session) == 0


@pytest.mark.parametrize("dry_run", [False, True])
async def test_an_error_rolls_back_and_is_raised(database: Database, dry_run: bool) -> None:
    async def refused(session: AsyncSession) -> None:
        async with transaction(session, dry_run=dry_run):
            await session.execute(insert(notes).values(text="refused"))
            raise LookupError("refused")

    async with database.sessionmaker() as session:
        with pytest.raises(LookupError, match="refused"):
            await refused(session)
        assert not session.in_transaction()
    async with database.sessionmaker() as session, session.begin():
        assert await count(session) == 0
