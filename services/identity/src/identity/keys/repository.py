"""Queries of the signing keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from servicekit.clock import aware, utcnow

from .models import SigningKey

PUBLISHED = ("next", "active", "retired")
# PostgreSQL advisory lock taken by every transaction that creates or rotates keys, so two
# pods starting together (or a start-up and the rotate-keys CronJob) cannot both see "no
# key" and publish two (the second waits, then sees the first one's keys).
KEYS_LOCK_ID = 0x5A4D454E4B4559  # "ZMENKEY": any constant shared by every identity process


async def lock_keys(session: AsyncSession) -> None:
    """Serialise key-changing transactions (PostgreSQL; SQLite's BEGIN IMMEDIATE already
    does: one writer at a time)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": KEYS_LOCK_ID})


async def all_keys(session: AsyncSession, purpose: str | None = None) -> Sequence[SigningKey]:
    query = select(SigningKey)
    if purpose is not None:
        query = query.where(col(SigningKey.purpose) == purpose)
    return (await session.execute(query)).scalars().all()


async def published_keys(session: AsyncSession) -> Sequence[SigningKey]:
    query = select(SigningKey).where(col(SigningKey.status).in_(PUBLISHED))
    return (await session.execute(query)).scalars().all()


async def remove_expired(session: AsyncSession) -> list[str]:
    """Retired keys past their retention stop being published; their kids."""
    now = utcnow()
    query = select(SigningKey).where(col(SigningKey.status) == "retired")
    rows = (await session.execute(query)).scalars().all()
    expired = [r.kid for r in rows if r.retire_after and aware(r.retire_after) <= now]
    if expired:
        await session.execute(
            update(SigningKey).where(col(SigningKey.kid).in_(expired)).values(status="removed")
        )
    return expired
