"""The server-side session store: the cookie carries only a random id, the row is keyed by
its hash, ids change at log-in, sessions expire when idle and at their maximum age."""

from __future__ import annotations

import hashlib
import time

from conftest import Portal
from sqlalchemy import select, update

from portal.sessions.models import PortalSession
from portal.sessions.schemas import Person
from portal.sessions.service import Session, SessionStore, new_data
from servicekit.db import Database


async def rows(database: Database) -> list[PortalSession]:
    async with database.sessionmaker() as db:
        return list((await db.execute(select(PortalSession))).scalars())


async def test_a_session_is_written_only_when_there_is_something_to_keep(
    portal: Portal,
) -> None:
    store = SessionStore(portal.database, 3600, 7200)
    fresh = await store.load(None)
    await store.save(fresh)
    assert not fresh.exists
    assert await rows(portal.database) == []
    fresh.csrf_token()
    await store.save(fresh)
    assert fresh.id is not None
    (row,) = await rows(portal.database)
    assert row.id_hash == hashlib.sha256(fresh.id.encode()).hexdigest()
    assert fresh.id not in row.data  # the id itself is nowhere in the table
    again = await store.load(fresh.id)
    assert again.exists
    assert again.data.csrf == fresh.data.csrf


async def test_unknown_tampered_and_expired_ids_give_an_empty_session(portal: Portal) -> None:
    store = SessionStore(portal.database, 3600, 7200)
    session = Session(None, new_data())
    session.csrf_token()
    session.data.person = Person(sub="p")
    await store.save(session)
    assert session.id
    assert (await store.load(session.id + "x")).data.person is None
    assert (await store.load("x" * 500)).data.person is None
    async with portal.database.sessionmaker() as db, db.begin():
        await db.execute(update(PortalSession).values(expires_at=int(time.time()) - 1))
    assert (await store.load(session.id)).data.person is None
    assert await store.purge() == 1
    assert await rows(portal.database) == []


async def test_rotation_replaces_the_row_and_end_deletes_it(portal: Portal) -> None:
    store = SessionStore(portal.database, 3600, 7200)
    session = Session(None, new_data())
    old_csrf = session.csrf_token()
    await store.save(session)
    old_id = session.id
    session.rotate()
    await store.save(session)
    assert session.id != old_id
    assert session.data.csrf != old_csrf
    (row,) = await rows(portal.database)
    assert row.id_hash == hashlib.sha256(str(session.id).encode()).hexdigest()
    assert (await store.load(old_id)).exists is False
    session.end()
    await store.save(session)
    assert await rows(portal.database) == []


async def test_idle_expiry_moves_with_activity_but_not_past_the_maximum(portal: Portal) -> None:
    store = SessionStore(portal.database, idle_seconds=600, max_age_seconds=900)
    session = Session(None, new_data())
    session.csrf_token()
    await store.save(session)
    (row,) = await rows(portal.database)
    assert row.expires_at - row.created_at == 600
    async with portal.database.sessionmaker() as db, db.begin():
        await db.execute(
            update(PortalSession).values(
                created_at=row.created_at - 800, updated_at=row.updated_at - 800
            )
        )
    loaded = await store.load(session.id)
    assert loaded.dirty  # touched: the expiry moves
    await store.save(loaded)
    (row,) = await rows(portal.database)
    assert row.expires_at == row.created_at + 900  # capped at the maximum age


async def test_the_cookie_is_http_only_lax_secure_and_holds_only_the_id(portal: Portal) -> None:
    response = await portal.client.get("/login", params={"next": "/tenders"})
    cookie = response.headers["set-cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == "samen_portal"
    assert len(value) >= 40
    flags = cookie.lower()
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" in flags
    (row,) = await rows(portal.database)
    assert value not in row.data
    assert row.id_hash == hashlib.sha256(value.encode()).hexdigest()
