"""Contract tests: schemathesis against each service's own OpenAPI document, in-process
(ASGI), authenticated with TestIssuer tokens that carry every read/write scope.

Hypothesis profiles: the default run (``make test``) uses a small, derandomised example
budget per operation (the ``smoke`` tests); ``make fuzz`` passes
``--hypothesis-profile=nightly`` and runs the long, non-smoke tests.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, os.path.dirname(__file__))

from contractkit import DATABASE_URLS  # also registers the hypothesis profiles

from servicekit.migrations import upgrade
from servicekit.testing import test_database_base_url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "smoke: quick contract run in `make test` (`make fuzz` runs the rest)"
    )


def _migrate(package: str, url: str) -> None:
    # Alembic runs its own event loop: keep it off pytest-asyncio's.
    error: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(package, url)
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if error:
        raise error[0]


@pytest.fixture(scope="session")
async def contract_databases() -> AsyncIterator[dict[str, str]]:
    """Create (PostgreSQL) and migrate the databases the apps were given at import."""
    admin = None
    if test_database_base_url():
        base = make_url(test_database_base_url() or "").set(drivername="postgresql+asyncpg")
        admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        async with admin.connect() as conn:
            for url in DATABASE_URLS.values():
                await conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
    try:
        for part, url in DATABASE_URLS.items():
            _migrate(f"{part}.migrations", url)
        yield DATABASE_URLS
    finally:
        if admin is not None:
            async with admin.connect() as conn:
                for url in DATABASE_URLS.values():
                    name = make_url(url).database
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
