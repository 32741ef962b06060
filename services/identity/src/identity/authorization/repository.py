"""Every query of authorization requests and codes.

A PostgreSQL-only statement sits next to its portable fallback in the same function:
on PostgreSQL some multi-table steps are one statement of data-modifying CTEs (atomic by
itself, no BEGIN/COMMIT round trips); SQLite runs the same steps in a transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from servicekit.db import Database

from ..audit.models import AuditEvent
from ..sessions.models import LoginSession
from .models import AuthorizationCode, AuthorizationRequest

REQUESTS: Table = AuthorizationRequest.__table__  # type: ignore[attr-defined]
CODES: Table = AuthorizationCode.__table__  # type: ignore[attr-defined]
_BY_ID = select(REQUESTS).where(REQUESTS.c.id == bindparam("id"))
_BY_UPSTREAM_STATE = select(REQUESTS).where(REQUESTS.c.upstream_state == bindparam("state"))
_INSERT_REQUEST = insert(REQUESTS).values(
    {c.name: bindparam(c.name, type_=c.type) for c in REQUESTS.c}
)
# The upstream leg recorded on a usable request whose required level is one of those the
# chosen means reaches (:level_1 … :level_3; unused ones are empty and match nothing).
_START_UPSTREAM = (
    update(REQUESTS)
    .where(
        REQUESTS.c.id == bindparam("request_id"),
        REQUESTS.c.completed_at.is_(None),
        REQUESTS.c.expires_at > bindparam("now", type_=REQUESTS.c.expires_at.type),
        or_(*(REQUESTS.c.required_loa == bindparam(f"level_{i}") for i in (1, 2, 3))),
    )
    .values(
        {
            name: bindparam(name, type_=REQUESTS.c[name].type)
            for name in ("means", "upstream_state", "upstream_nonce", "upstream_verifier", "csrf")
        }
    )
    .returning(REQUESTS.c.required_loa)
)


class SpentCode:
    """A code just marked used, with its login session (None when that has ended)."""

    __slots__ = ("code", "login")

    def __init__(self, code: AuthorizationCode, login: LoginSession | None) -> None:
        self.code = code
        self.login = login


class AuthorizationRepository:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.postgresql = database.engine.dialect.name == "postgresql"

    async def add_request(self, row: AuthorizationRequest) -> None:
        await self.database.execute(_INSERT_REQUEST, row.model_dump())

    async def get_request(self, request_id: str) -> AuthorizationRequest | None:
        return _request(await self.database.fetch(_BY_ID, {"id": request_id}))

    async def by_upstream_state(self, state: str) -> AuthorizationRequest | None:
        return _request(await self.database.fetch(_BY_UPSTREAM_STATE, {"state": state}))

    async def start_upstream(
        self, request_id: str, values: dict[str, str], now: datetime, levels: Sequence[str]
    ) -> str | None:
        """Record the chosen means and the upstream leg (``values``) on a usable request
        (not completed, not expired) whose required level is one of ``levels``; that
        level, or None when nothing was written."""
        chosen = [*levels, "", "", ""][:3]
        params: dict[str, Any] = {f"level_{i}": loa for i, loa in enumerate(chosen, 1)}
        params.update(values, request_id=request_id, now=now)
        rows = await self.database.execute(_START_UPSTREAM, params)
        return str(rows[0]["required_loa"]) if rows else None

    async def complete_with_login(
        self,
        request_id: str,
        now: datetime,
        login: LoginSession,
        audit: AuditEvent,
        code: AuthorizationCode,
    ) -> bool:
        """Mark the request completed (only if it was not) and write the login session,
        its history row and the RP's code; False (nothing written) if it was completed."""
        if self.postgresql:
            rows = await self.database.execute(
                _LOGIN_AND_CODE,
                {
                    "now": now,
                    "request_id": request_id,
                    **{f"s_{k}": v for k, v in login.model_dump().items()},
                    "a_id": audit.id,
                    "a_actor": audit.actor,
                    "a_subject": audit.subject,
                    "a_detail": json.dumps(audit.detail),
                    "a_trace_id": audit.trace_id,
                    **_code_params(code),
                },
            )
            return bool(rows)
        try:
            async with self.database.sessionmaker() as session, session.begin():
                session.add(login)
                await session.flush()  # the code row refers to the session
                session.add(audit)
                await _complete(session, request_id, now, code)
        except _AlreadyCompleted:
            return False
        return True

    async def complete_with_code(
        self, request_id: str, now: datetime, code: AuthorizationCode
    ) -> bool:
        """Mark the request completed (only if it was not) and write the RP's code."""
        try:
            async with self.database.sessionmaker() as session, session.begin():
                await _complete(session, request_id, now, code)
        except _AlreadyCompleted:
            return False
        return True

    async def spend_code(self, code_hash: str, client_id: str, now: datetime) -> SpentCode | None:
        """Mark an unused code of this client used (only one UPDATE can, so single use
        holds under concurrency) and read its login session; None when no unused code of
        this client matched (unknown, another client's, or used before)."""
        if self.postgresql:
            rows = await self.database.execute(
                _SPEND_CODE, {"code_hash": code_hash, "client_id": client_id, "now": now}
            )
            if not rows:
                return None
            r = rows[0]
            code = AuthorizationCode(**{c.name: r[c.name] for c in CODES.c})
            login = None
            if r["s_id_hash"] is not None:
                login = LoginSession(**{c: r[f"s_{c}"] for c in LoginSession.model_fields})
            return SpentCode(code, login)
        async with self.database.sessionmaker() as session, session.begin():
            statement = (
                update(CODES)
                .where(
                    CODES.c.code_hash == code_hash,
                    CODES.c.client_id == client_id,
                    CODES.c.used_at.is_(None),
                )
                .values(used_at=now)
                .returning(*CODES.c)
            )
            row = (await session.execute(statement)).mappings().first()
            if row is None:
                return None
            spent = AuthorizationCode(**dict(row))
            return SpentCode(spent, await session.get(LoginSession, spent.session_hash))


def _request(rows: Sequence[Any]) -> AuthorizationRequest | None:
    return AuthorizationRequest(**dict(rows[0])) if rows else None


def _code_params(code: AuthorizationCode) -> dict[str, Any]:
    values = {f"c_{k}": v for k, v in code.model_dump().items()}
    claims = code.claims_request
    values["c_claims_request"] = json.dumps(claims) if claims is not None else None
    return values


class _AlreadyCompleted(Exception):
    """Raised inside the transaction, so that it rolls back."""


async def _complete(
    session: AsyncSession, request_id: str, now: datetime, code: AuthorizationCode
) -> None:
    session.add(code)
    # Single use of the authorization request: only one completion wins.
    result = await session.execute(
        update(AuthorizationRequest)
        .where(
            col(AuthorizationRequest.id) == request_id,
            col(AuthorizationRequest.completed_at).is_(None),
        )
        .values(completed_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _AlreadyCompleted


# The login's records in one statement: the request is marked completed only if it was
# not (a second completion gets no row back and writes nothing); every insert reads from
# that UPDATE … RETURNING.
_LOGIN_AND_CODE = text(
    """
WITH request AS (
    UPDATE authorization_requests SET completed_at = CAST(:now AS timestamptz)
    WHERE id = CAST(:request_id AS varchar) AND completed_at IS NULL
    RETURNING 1
), login AS (
    INSERT INTO login_sessions (id_hash, person_hash, means, acr, auth_time,
                                attributes_encrypted, expires_at, ended_at)
    SELECT CAST(:s_id_hash AS varchar), CAST(:s_person_hash AS varchar),
           CAST(:s_means AS varchar), CAST(:s_acr AS varchar),
           CAST(:s_auth_time AS timestamptz), CAST(:s_attributes_encrypted AS text),
           CAST(:s_expires_at AS timestamptz), CAST(:s_ended_at AS timestamptz)
    FROM request
), audit AS (
    INSERT INTO audit_events (id, at, actor, action, subject, detail, trace_id)
    SELECT CAST(:a_id AS uuid), CAST(:now AS timestamptz), CAST(:a_actor AS varchar),
           'session.created', CAST(:a_subject AS varchar), CAST(:a_detail AS json),
           CAST(:a_trace_id AS varchar)
    FROM request
), code AS (
    INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge,
                                     nonce, scope, session_hash, claims_request,
                                     expires_at, used_at, replayed_at)
    SELECT CAST(:c_code_hash AS varchar), CAST(:c_client_id AS varchar),
           CAST(:c_redirect_uri AS varchar), CAST(:c_code_challenge AS varchar),
           CAST(:c_nonce AS varchar), CAST(:c_scope AS varchar),
           CAST(:c_session_hash AS varchar), CAST(:c_claims_request AS json),
           CAST(:c_expires_at AS timestamptz), NULL, NULL
    FROM request
)
SELECT 1 AS completed FROM request
"""
)

# The redemption in one statement: an unused code of this client is marked used and its
# login session (unless ended) read with it.
_SPEND_CODE = text(
    """
WITH spent AS (
    UPDATE authorization_codes SET used_at = CAST(:now AS timestamptz)
    WHERE code_hash = CAST(:code_hash AS varchar) AND client_id = CAST(:client_id AS varchar)
          AND used_at IS NULL
    RETURNING *
)
SELECT spent.*, s.id_hash AS s_id_hash, s.person_hash AS s_person_hash,
       s.means AS s_means, s.acr AS s_acr, s.auth_time AS s_auth_time,
       s.attributes_encrypted AS s_attributes_encrypted, s.expires_at AS s_expires_at,
       s.ended_at AS s_ended_at
FROM spent LEFT JOIN login_sessions s ON s.id_hash = spent.session_hash AND s.ended_at IS NULL
"""
)
