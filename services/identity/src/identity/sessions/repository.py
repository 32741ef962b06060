"""Every query of login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, bindparam, select, update
from sqlmodel import col

from servicekit.db import Database

from ..audit.repository import add_audit
from ..tokens.models import RefreshToken
from .models import LoginSession

SESSIONS: Table = LoginSession.__table__  # type: ignore[attr-defined]
_BY_ID = select(SESSIONS).where(SESSIONS.c.id_hash == bindparam("id_hash"))


class SessionRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, id_hash: str) -> LoginSession | None:
        rows = await self.database.fetch(_BY_ID, {"id_hash": id_hash})
        return LoginSession(**dict(rows[0])) if rows else None

    async def end(self, id_hash: str, now: datetime, actor: str) -> None:
        """End the session and revoke the refresh tokens issued in it."""
        async with self.database.sessionmaker() as session, session.begin():
            await session.execute(
                update(LoginSession)
                .where(col(LoginSession.id_hash) == id_hash)
                .values(ended_at=now)
            )
            await session.execute(
                update(RefreshToken)
                .where(
                    col(RefreshToken.session_hash) == id_hash,
                    col(RefreshToken.revoked_at).is_(None),
                )
                .values(revoked_at=now)
            )
            add_audit(session, actor=actor, action="session.ended", subject=id_hash[:16])
