"""The migrations build exactly the tables the models describe (no drift), on both
engines. Known extras that live outside the ORM: the FTS5 tables (SQLite) and the search
table ``search_entries`` with its GIN index (PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from registry.db import load_models, metadata
from servicekit.db import Database
from servicekit.migrations import script_location, upgrade
from servicekit.testing import fresh_database_url
from servicekit.testing import test_database_base_url as postgres_url

OUTSIDE_ORM = ("_fts", "search_entries", "search_vector", "_search", "search_words")


def _relevant(diff: Any) -> bool:
    text = repr(diff)
    return not any(marker in text for marker in OUTSIDE_ORM)


async def test_models_match_migrations(registry_db: Database) -> None:
    load_models()

    def compare(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, metadata))

    async with registry_db.engine.connect() as conn:
        diffs = await conn.run_sync(compare)
    flat = [d for diff in diffs for d in (diff if isinstance(diff, list) else [diff])]
    assert flat, "the comparison sees the FTS extras, so it ran"
    assert [d for d in flat if _relevant(d)] == []


@pytest.mark.skipif(not postgres_url(), reason="PostgreSQL's search table (TEST_DATABASE_URL)")
async def test_the_search_table_is_filled_from_existing_rows_and_given_back_on_downgrade(
    tmp_path: Path,
) -> None:
    """0009 on a database that already holds a catalogue: every facility and offering gets
    its entry (with its facility's kind, theme and stage) and is found; the downgrade
    restores 0005's stored vectors, which find the same rows."""
    supplier, facility, offering = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with fresh_database_url("search_entries", tmp_path) as url:
        await asyncio.to_thread(upgrade, "registry.migrations", url, "0008")
        database = Database(url)
        try:
            async with database.engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO organisations (id, type, name, kvk_number, revision, "
                        "created_at, updated_at) VALUES (:id, 'supplier', 'Leverancier', "
                        "'90000001', 1, now(), now())"
                    ),
                    {"id": supplier},
                )
                await conn.execute(
                    text(
                        "INSERT INTO facilities (id, slug, name, description, kind, theme, links, "
                        "standards, stage, revision, created_at, updated_at) VALUES (:id, 'ggi', "
                        "'GGI-Netwerk', 'Beveiligd netwerk', 'infrastructure', 'connectivity', "
                        "'[]', '[]', 'pilot', 1, now(), now())"
                    ),
                    {"id": facility},
                )
                await conn.execute(
                    text(
                        "INSERT INTO offerings (id, supplier_id, facility_id, name, description, "
                        "price_model, standards, certifications, revision, created_at, "
                        "updated_at) VALUES (:id, :supplier, :facility, 'Glasvezel Snel', "
                        "'Glasvezel naar het gemeentehuis', 'fixed', '[]', '[]', 1, now(), now())"
                    ),
                    {"id": offering, "supplier": supplier, "facility": facility},
                )
            await asyncio.to_thread(upgrade, "registry.migrations", url)
            async with database.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT id, type, facility_id, name, kind, theme, stage FROM "
                            "search_entries WHERE search_vector @@ to_tsquery('dutch', :q) "
                            "ORDER BY type"
                        ),
                        {"q": "glasvezel | netwerk"},
                    )
                ).all()
            assert [tuple(r) for r in rows] == [
                (facility, "facility", facility, "GGI-Netwerk", "infrastructure", "connectivity", "pilot"),
                (offering, "offering", facility, "Glasvezel Snel", "infrastructure", "connectivity", "pilot"),
            ]  # fmt: skip
            await asyncio.to_thread(_downgrade, url, "0008")
            async with database.engine.connect() as conn:
                found = (
                    await conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM facilities WHERE search_vector @@ q) "
                            "+ (SELECT count(*) FROM offerings WHERE search_vector @@ q) "
                            "FROM to_tsquery('dutch', 'glasvezel | netwerk') AS q"
                        )
                    )
                ).scalar_one()
                gone = (
                    await conn.execute(text("SELECT to_regclass('search_entries') IS NULL"))
                ).scalar_one()
            assert (found, gone) == (2, True)
        finally:
            await database.dispose()


def _downgrade(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location("registry.migrations"))
    config.attributes["database_url"] = url
    command.downgrade(config, revision)


async def test_migrations_after_0009_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    """The catalogue features' migrations (follow-up usages and later) go down to 0009
    and up to head again, on both engines, leaving no drift."""
    async with fresh_database_url("round_trip", tmp_path) as url:
        await asyncio.to_thread(upgrade, "registry.migrations", url, "head")
        await asyncio.to_thread(_downgrade, url, "0009")
        await asyncio.to_thread(upgrade, "registry.migrations", url, "head")
        database = Database(url)
        try:
            await test_models_match_migrations(database)
        finally:
            await database.dispose()


async def test_0018_corrects_the_stored_subjects_of_facility_and_vulnerability_events(
    tmp_path: Path,
) -> None:
    async with fresh_database_url("subjects", tmp_path) as url:
        await asyncio.to_thread(upgrade, "registry.migrations", url, "0017")
        subjects = ["facilitys/f1", "vulnerabilitys/v1", "facilities/f1/pledges/p1",
                    "organisations/o1", "offerings/x/versions/y"]  # fmt: skip
        database = Database(url)
        try:
            async with database.engine.begin() as connection:
                for n, subject in enumerate(subjects):
                    await connection.execute(
                        text(
                            "INSERT INTO event_outbox (id, type, source, subject, time, data) "
                            "VALUES (:id, 't', 's', :subject, CURRENT_TIMESTAMP, '{}')"
                        ),
                        {"id": f"e{n}", "subject": subject},
                    )
            await asyncio.to_thread(upgrade, "registry.migrations", url, "head")
            async with database.engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT subject FROM event_outbox ORDER BY id")
                )
                assert [row.subject for row in rows] == [
                    "facilities/f1", "vulnerabilities/v1", "facilities/f1/pledges/p1",
                    "organisations/o1", "offerings/x/versions/y"]  # fmt: skip
        finally:
            await database.dispose()
