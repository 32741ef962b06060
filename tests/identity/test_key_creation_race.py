"""Signing keys are created once even when several identity processes start together:
each start-up's ``ensure`` (and ``rotate-keys``) runs under one advisory lock on
PostgreSQL (SQLite's write lock serialises it), so the second sees the first one's keys."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from identity.keys.models import SigningKey
from identity.keys.service import KeyStore
from servicekit.db import Database
from servicekit.testing import fresh_database_url, migrated_database

KEK = "key-encryption-key-for-the-race-test"


async def test_pods_starting_together_publish_one_key_set(tmp_path: Path) -> None:
    async with fresh_database_url("identity_keys_race", tmp_path) as url:
        first = await migrated_database("identity.migrations", url)
        # Separate engines: as separate pods, each with its own connections.
        others = [Database(url) for _ in range(3)]
        try:
            stores = [KeyStore(db.sessionmaker, KEK, 3600) for db in (first, *others)]
            await asyncio.gather(*(store.ensure() for store in stores))
            async with first.sessionmaker() as session:
                rows = (await session.execute(select(SigningKey))).scalars().all()
            counts = Counter((r.purpose, r.alg, r.status) for r in rows)
            assert counts == {
                ("op", "RS256", "active"): 1,
                ("op", "RS256", "next"): 1,
                ("op", "PS256", "active"): 1,
                ("op", "PS256", "next"): 1,
                ("simulator", "RS256", "active"): 1,
                ("encryption", "RSA-OAEP-256", "active"): 1,
            }
            # A rotation racing a start-up neither duplicates nor loses a key.
            await asyncio.gather(stores[0].rotate(actor="test", at_once=True), stores[1].ensure())
            async with first.sessionmaker() as session:
                rows = (await session.execute(select(SigningKey))).scalars().all()
            counts = Counter((r.purpose, r.alg, r.status) for r in rows if r.purpose == "op")
            for alg in ("RS256", "PS256"):
                assert counts[("op", alg, "active")] == 1
                assert counts[("op", alg, "next")] == 1
                assert counts[("op", alg, "retired")] == 1
        finally:
            for db in (first, *others):
                await db.dispose()
