"""Every query of login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, bindparam, select, update
from sqlmodel import col

from servicekit.db import Database

from ..audit.repository import add_audit
from ..tokens.models import RefreshToken
from ..tokens.repository import FamilyRevocation, revoke_families
from .models import LoginSession

SESSIONS: Table = LoginSession.__table__  # type: ignore[attr-defined]
_BY_ID = select(SESSIONS).where(SESSIONS.c.id_hash == bindparam("id_hash"))


class SessionRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, id_hash: str) -> LoginSession | None:
        rows = await self.database.fetch(_BY_ID, {"id_hash": id_hash})
        return LoginSession(**dict(rows[0])) if rows else None

    async def end(
        self,
        id_hash: str,
        now: datetime,
        actor: str,
        revocation: FamilyRevocation | None = None,
    ) -> None:
        """End the session and revoke the refresh tokens issued in it (with
        ``revocation``: their families' access tokens too)."""
        async with self.database.sessionmaker() as session, session.begin():
            await session.execute(
                update(LoginSession)
                .where(col(LoginSession.id_hash) == id_hash)
                .values(ended_at=now)
            )
            of_session = (
                col(RefreshToken.session_hash) == id_hash,
                col(RefreshToken.revoked_at).is_(None),
            )
            if revocation is not None:
                families = await session.execute(
                    select(col(RefreshToken.family_id), col(RefreshToken.client_id))
                    .where(*of_session)
                    .distinct()
                )
                await revoke_families(session, [tuple(f) for f in families], now, revocation)
            await session.execute(update(RefreshToken).where(*of_session).values(revoked_at=now))
            add_audit(session, actor=actor, action="session.ended", subject=id_hash[:16])
