"""Housekeeping: delete protocol state that can no longer be used (expired requests,
codes, refresh tokens, revocation entries, one-time ids and Idempotency-Keys past their
TTL). History rows (audit events,
disclosures) are append-only and never purged here."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from servicekit.clock import utcnow
from servicekit.idempotency import TTL as IDEMPOTENCY_TTL

from .audit.repository import add_audit
from .authorization.models import AuthorizationCode, AuthorizationRequest
from .clients.models import UsedJti
from .db import idempotency_keys
from .sessions.models import LoginSession
from .tokens.models import RefreshToken, RevokedToken


async def purge_expired(
    sessionmaker: async_sessionmaker[AsyncSession], actor: str = "cli"
) -> dict[str, int]:
    now = utcnow()
    counts: dict[str, int] = {}
    statements = {
        "authorization_requests": delete(AuthorizationRequest).where(
            col(AuthorizationRequest.expires_at) < now
        ),
        "authorization_codes": delete(AuthorizationCode).where(
            col(AuthorizationCode.expires_at) < now
        ),
        "refresh_tokens": delete(RefreshToken).where(col(RefreshToken.expires_at) < now),
        "revoked_tokens": delete(RevokedToken).where(col(RevokedToken.expires_at) < now),
        "used_jtis": delete(UsedJti).where(col(UsedJti.expires_at) < now),
        "login_sessions": delete(LoginSession).where(col(LoginSession.expires_at) < now),
        # A key past its TTL is never answered again (a new request replaces it).
        "idempotency_keys": delete(idempotency_keys).where(
            idempotency_keys.c.created_at < now - IDEMPOTENCY_TTL
        ),
    }
    async with sessionmaker() as session, session.begin():
        for name, statement in statements.items():
            result = await session.execute(statement)
            counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        add_audit(
            session, actor=actor, action="state.purged", subject="protocol-state", detail=counts
        )
    return counts
