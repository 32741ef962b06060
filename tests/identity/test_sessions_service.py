"""Login session rules without HTTP: only the cookie's hash is stored and the upstream
attributes (which may hold a BSN) only sealed; a session answers a request only at the
level asked, without prompt=login and within max_age; ended or expired sessions are gone
(the service on a real database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from identity.audit.models import AuditEvent
from identity.broker.means import UpstreamIdentity
from identity.common import sha256_hex
from identity.sessions.service import SessionService
from servicekit.auth import LOA_HIGH, LOA_LOW, LOA_SUBSTANTIAL
from servicekit.clock import utcnow
from servicekit.db import Database

BSN = "999993653"


async def _login(sessions: SessionService, database: Database, **row: Any) -> tuple[str, Any]:
    identity = UpstreamIdentity(means="digid", native_level="substantieel", loa=LOA_SUBSTANTIAL,
                                person_key=f"bsn:{BSN}", attributes={"bsn": BSN})  # fmt: skip
    cookie, login, audit = sessions.new(identity)
    for name, value in row.items():
        setattr(login, name, value)
    async with database.sessionmaker() as session, session.begin():
        session.add_all([login, audit])
    return cookie, login


async def test_a_session_is_stored_hashed_and_sealed(app: Any, database: Database) -> None:
    sessions: SessionService = app.state.identity.sessions
    cookie, login = await _login(sessions, database)
    assert login.id_hash == sha256_hex(cookie)
    assert BSN not in login.attributes_encrypted
    assert BSN not in login.person_hash
    loaded = await sessions.load(cookie)
    assert loaded is not None
    assert sessions.identity_of(loaded).attributes == {"bsn": BSN}
    assert await sessions.load(cookie + "x") is None
    assert await sessions.load("x" * 129) is None


def test_a_session_answers_only_at_the_level_asked(app: Any) -> None:
    sessions: SessionService = app.state.identity.sessions
    identity = UpstreamIdentity(means="digid", native_level="substantieel", loa=LOA_SUBSTANTIAL,
                                person_key="p", attributes={})  # fmt: skip
    _, login, _ = sessions.new(identity)
    assert sessions.satisfies(login, {}, LOA_LOW)
    assert sessions.satisfies(login, {}, LOA_SUBSTANTIAL)
    assert not sessions.satisfies(login, {}, LOA_HIGH)  # a step-up needs a new login
    assert not sessions.satisfies(login, {"prompt": ["login"]}, LOA_LOW)
    login.auth_time = utcnow() - timedelta(seconds=120)
    assert not sessions.satisfies(login, {"max_age": 60}, LOA_LOW)
    assert sessions.satisfies(login, {"max_age": 300}, LOA_LOW)


async def test_ended_and_expired_sessions_are_gone(app: Any, database: Database) -> None:
    sessions: SessionService = app.state.identity.sessions
    expired, _ = await _login(sessions, database, expires_at=utcnow() - timedelta(seconds=1))
    assert await sessions.load(expired) is None
    cookie, login = await _login(sessions, database)
    await sessions.end(login, actor="rp-logout")
    assert await sessions.load(cookie) is None
    query = select(AuditEvent.action, AuditEvent.actor).where(
        AuditEvent.subject == login.id_hash[:16]
    )
    async with database.sessionmaker() as session:
        actions = sorted((await session.execute(query)).all())
    assert actions == [("session.created", f"person:{login.person_hash[:16]}"),
                       ("session.ended", "rp-logout")]  # fmt: skip
