"""Server-side sessions: the browser holds a random id, the row holds everything else.

A session is created only when there is something to keep (a log-in on its way, a form
token), so anonymous visitors of public pages cost no write. The id is replaced at
log-in and log-out (no session fixation)."""

from __future__ import annotations

import hashlib
import secrets
import time

from servicekit.db import Database

from . import repository
from .schemas import SessionData

# Rows are rewritten on activity at most this often (the idle expiry moves with them).
TOUCH_SECONDS = 60


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_data() -> SessionData:
    return SessionData(csrf=secrets.token_urlsafe(32))


class Session:
    """One request's view of a session; ``dirty`` ones are written back by the store."""

    def __init__(self, session_id: str | None, data: SessionData, updated_at: int = 0) -> None:
        self.id = session_id
        self.data = data
        self.updated_at = updated_at
        self.dirty = False
        self.previous_id: str | None = None  # to delete after a rotation
        self.ended = False

    @property
    def exists(self) -> bool:
        return self.id is not None

    def changed(self) -> None:
        self.dirty = True

    def csrf_token(self) -> str:
        """The form token of this session (creating the session when needed)."""
        if self.id is None:
            self.id = secrets.token_urlsafe(32)
            self.dirty = True
        return self.data.csrf

    def rotate(self) -> None:
        """A new id (and form token) for the same data: at log-in."""
        if self.id is not None and self.previous_id is None:
            self.previous_id = self.id
        self.id = secrets.token_urlsafe(32)
        self.data.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def end(self) -> None:
        """Forget everything: at log-out."""
        self.ended = True
        self.dirty = True


class SessionStore:
    def __init__(self, database: Database, idle_seconds: int, max_age_seconds: int) -> None:
        self.database = database
        self.idle = idle_seconds
        self.max_age = max_age_seconds

    async def load(self, session_id: str | None) -> Session:
        if not session_id or len(session_id) > 100:
            return Session(None, new_data())
        now = int(time.time())
        async with self.database.sessionmaker() as db:
            row = await repository.get(db, _hash(session_id), now)
        if row is None:
            return Session(None, new_data())
        session = Session(session_id, SessionData.model_validate_json(row.data), row.updated_at)
        if now - row.updated_at >= TOUCH_SECONDS:
            session.dirty = True  # keep an active session alive
        return session

    async def save(self, session: Session) -> None:
        """Write a changed session (or delete an ended one) in one transaction."""
        if not session.dirty:
            return
        now = int(time.time())
        async with self.database.sessionmaker() as db, db.begin():
            if session.previous_id:
                await repository.remove(db, _hash(session.previous_id))
            if session.ended:
                if session.id:
                    await repository.remove(db, _hash(session.id))
                return
            if session.id is None:
                session.id = secrets.token_urlsafe(32)
            await repository.put(
                db,
                _hash(session.id),
                session.data.model_dump_json(),
                now,
                self.idle,
                self.max_age,
            )

    async def purge(self) -> int:
        async with self.database.sessionmaker() as db, db.begin():
            return await repository.purge_expired(db, int(time.time()))
