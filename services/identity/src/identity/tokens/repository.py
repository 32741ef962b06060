"""Every query of refresh tokens, revoked access tokens and what a grant records.

A PostgreSQL-only statement sits next to its portable fallback in the same function."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from servicekit.db import Database

from ..audit.repository import add_audit
from ..authorization.models import AuthorizationCode
from ..clients.repository import insert_ignoring_duplicates
from ..disclosures.models import Disclosure
from ..disclosures.repository import remember_subject
from .models import RefreshToken, RevokedToken

REVOKED: Table = RevokedToken.__table__  # type: ignore[attr-defined]
_REVOKED_SINCE = select(REVOKED.c.jti, REVOKED.c.expires_at).where(
    REVOKED.c.expires_at > bindparam("now"), REVOKED.c.revoked_at >= bindparam("since")
)


@dataclass(frozen=True)
class FamilyRevocation:
    """What revoking a refresh-token family also revokes: the access tokens it gave, named
    by ``jtis(family_id, spent refresh-token hashes)``, listed until ``until``."""

    jtis: Callable[[str, Sequence[str]], list[str]]
    until: datetime


DISCLOSURES: Table = Disclosure.__table__  # type: ignore[attr-defined]
_IS_REVOKED = select(REVOKED.c.jti).where(REVOKED.c.jti == bindparam("jti"))
_INSERT_DISCLOSURE = insert(DISCLOSURES).values(
    {c.name: bindparam(c.name, type_=c.type) for c in DISCLOSURES.c}
)


class TokenRepository:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.postgresql = database.engine.dialect.name == "postgresql"

    async def is_revoked(self, jti: str) -> bool:
        return bool(await self.database.fetch(_IS_REVOKED, {"jti": jti}))

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        async with self.database.sessionmaker() as session:
            return await session.get(RefreshToken, token_hash)

    async def add_disclosure(self, disclosure: Disclosure) -> None:
        await self.database.execute(_INSERT_DISCLOSURE, disclosure.model_dump())

    async def record_grant(
        self,
        code_hash: str | None,
        refresh: RefreshToken | None,
        disclosure: Disclosure,
        sector: str,
        sub: str,
        rotated_hash: str | None = None,
    ) -> bool:
        """Record what a grant produced: its refresh token (if any), the disclosure log
        entry and the pairwise subject. For a code (``code_hash``) only while the code is
        not marked replayed, for a refresh (``rotated_hash``, the token it rotates) only
        while that token's family is not revoked, each checked under the row's lock (a
        replay or revocation that got there first wins); False then, and nothing is
        written (RFC 9700 §4.14.2)."""
        if code_hash is not None and self.postgresql:
            params: dict[str, Any] = {
                "code_hash": code_hash,
                **{f"r_{k}": v for k, v in (refresh.model_dump() if refresh else {}).items()},
                **{f"d_{k}": v for k, v in disclosure.model_dump().items()},
                "sector": sector,
                "sub": sub,
            }
            if refresh is None:
                params.update({f"r_{c}": None for c in RefreshToken.model_fields})
            params["r_claims_request"] = _json(refresh.claims_request if refresh else None)
            params["d_attributes"] = json.dumps(disclosure.attributes)
            return bool(await self.database.execute(_RECORD_CODE_GRANT, params))
        async with self.database.sessionmaker() as session, session.begin():
            if code_hash is not None:
                code = await session.get(AuthorizationCode, code_hash, with_for_update=True)
                if code is None or code.replayed_at is not None:
                    return False
            if rotated_hash is not None:
                rotated = await session.get(RefreshToken, rotated_hash, with_for_update=True)
                if rotated is None or rotated.revoked_at is not None:
                    return False
            if refresh is not None:
                session.add(refresh)
            session.add(disclosure)
            await remember_subject(session, sector, sub, disclosure.person_hash)
        return True

    async def revoked_since(self, since: datetime, now: datetime) -> list[tuple[str, datetime]]:
        """Revoked access tokens not yet expired, revoked at ``since`` or later."""
        rows = await self.database.fetch(_REVOKED_SINCE, {"since": since, "now": now})
        return [(r["jti"], r["expires_at"]) for r in rows]

    async def unspent_refresh_scope(self, token_hash: str, client_id: str) -> str | None:
        """The scope of this client's refresh token while it is neither used nor revoked,
        else None."""
        async with self.database.sessionmaker() as session:
            row = await session.get(RefreshToken, token_hash)
        if row is None or row.client_id != client_id:
            return None
        if row.used_at is not None or row.revoked_at is not None:
            return None
        return row.scope

    async def use_refresh_token(
        self, token_hash: str, client_id: str, now: datetime, revocation: FamilyRevocation
    ) -> tuple[RefreshToken | None, bool]:
        """Mark a refresh token of this client used: (its row, whether it was reused). A
        spent token that comes back revokes its whole family (someone holds a copy)."""
        async with self.database.sessionmaker() as session, session.begin():
            row = await session.get(RefreshToken, token_hash)
            if row is None or row.client_id != client_id:
                return None, False
            result = await session.execute(
                update(RefreshToken)
                .where(
                    col(RefreshToken.token_hash) == token_hash,
                    col(RefreshToken.used_at).is_(None),
                    col(RefreshToken.revoked_at).is_(None),
                )
                .values(used_at=now)
            )
            reused = result.rowcount != 1  # type: ignore[attr-defined]
            if reused and row.used_at is not None:
                await revoke_families(session, [(row.family_id, client_id)], now, revocation)
                add_audit(
                    session,
                    actor=f"client:{client_id}",
                    action="refresh.reuse_detected",
                    subject=row.family_id,
                )
        return row, reused

    async def revoke_after_replay(
        self,
        code_hash: str,
        client_id: str,
        now: datetime,
        family_id: str,
        revocation: FamilyRevocation,
    ) -> bool:
        """A used code came back: mark it replayed and revoke what its redemption produced
        (RFC 6749 §4.1.2), i.e. the refresh-token family it started (``family_id``) with
        the access tokens of that family, the code's own among them. Other codes of the
        same login session (another tab) keep theirs. False when the code is unknown or
        another client's (nothing written)."""
        async with self.database.sessionmaker() as session, session.begin():
            code = await session.get(AuthorizationCode, code_hash)
            if code is None or code.client_id != client_id:
                return False
            # Marking the code locks its row, so a redemption still in flight either
            # sees the mark or has committed its refresh token before this.
            await session.execute(
                update(AuthorizationCode)
                .where(col(AuthorizationCode.code_hash) == code_hash)
                .values(replayed_at=now)
            )
            await revoke_families(session, [(family_id, client_id)], now, revocation)
            add_audit(
                session, actor=f"client:{client_id}", action="code.replayed", subject=family_id
            )
        return True

    async def revoke_access_token(
        self, jti: str, client_id: str, expires_at: datetime, now: datetime
    ) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            if await session.get(RevokedToken, jti) is not None:
                return
            session.add(
                RevokedToken(jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=now)
            )
            add_audit(session, actor=f"client:{client_id}", action="token.revoked", subject=jti)

    async def revoke_refresh_family(
        self, family_id: str, client_id: str, now: datetime, revocation: FamilyRevocation
    ) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            await revoke_families(session, [(family_id, client_id)], now, revocation)
            add_audit(
                session, actor=f"client:{client_id}", action="refresh.revoked", subject=family_id
            )


async def revoke_families(
    session: AsyncSession,
    families: Sequence[tuple[str, str]],
    now: datetime,
    revocation: FamilyRevocation,
) -> None:
    """Revoke refresh-token families ((family id, client id) pairs) and the access tokens
    they gave: the code's and each redeemed refresh token's (resource servers learn of
    them from the revocation feed)."""
    for family_id, client_id in families:
        # Lock the family first: a rotation recording its new token holds the rotated
        # token's lock, and the UPDATE below (a new statement, a new snapshot under READ
        # COMMITTED) then also sees the token it committed.
        await session.execute(
            select(col(RefreshToken.token_hash))
            .where(col(RefreshToken.family_id) == family_id)
            .with_for_update()
        )
        await session.execute(
            update(RefreshToken)
            .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        spent = await session.execute(
            select(col(RefreshToken.token_hash)).where(
                col(RefreshToken.family_id) == family_id, col(RefreshToken.used_at).is_not(None)
            )
        )
        jtis = revocation.jtis(family_id, list(spent.scalars()))
        await _deny(session, jtis, client_id, revocation.until, now)


async def _deny(
    session: AsyncSession, jtis: Sequence[str], client_id: str, until: datetime, now: datetime
) -> None:
    """Put access tokens on the revocation list (idempotent)."""
    statement = insert_ignoring_duplicates(REVOKED, session.bind.dialect.name)
    for jti in jtis:
        values = {"jti": jti, "client_id": client_id, "expires_at": until, "revoked_at": now}
        await session.execute(statement.values(**values))


def _json(value: Any) -> str | None:
    return json.dumps(value) if value is not None else None


# A code grant's records in one statement: the code row is locked and must not be marked
# replayed; only then are the refresh token (when :r_token_hash is not NULL), the
# disclosure log entry (append-only) and the pairwise subject written.
_RECORD_CODE_GRANT = text(
    """
WITH code AS (
    SELECT 1 FROM authorization_codes
    WHERE code_hash = CAST(:code_hash AS varchar) AND replayed_at IS NULL FOR UPDATE
), refresh AS (
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, scope, session_hash,
                                claims_request, created_at, expires_at, family_expires_at)
    SELECT CAST(:r_token_hash AS varchar), CAST(:r_family_id AS varchar),
           CAST(:r_client_id AS varchar), CAST(:r_scope AS varchar),
           CAST(:r_session_hash AS varchar), CAST(:r_claims_request AS json),
           CAST(:r_created_at AS timestamptz), CAST(:r_expires_at AS timestamptz),
           CAST(:r_family_expires_at AS timestamptz)
    FROM code WHERE CAST(:r_token_hash AS varchar) IS NOT NULL
), disclosure AS (
    INSERT INTO disclosures (id, person_hash, client_id, client_name, channel,
                             attributes, acr, at, trace_id)
    SELECT CAST(:d_id AS uuid), CAST(:d_person_hash AS varchar),
           CAST(:d_client_id AS varchar), CAST(:d_client_name AS varchar),
           CAST(:d_channel AS varchar), CAST(:d_attributes AS json), CAST(:d_acr AS varchar),
           CAST(:d_at AS timestamptz), CAST(:d_trace_id AS varchar)
    FROM code
), subject AS (
    INSERT INTO pairwise_subjects (sector, sub, person_hash)
    SELECT CAST(:sector AS varchar), CAST(:sub AS varchar), CAST(:d_person_hash AS varchar)
    FROM code ON CONFLICT DO NOTHING
)
SELECT 1 AS recorded FROM code
"""
)
