"""Every query on the session table."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .models import PortalSession


async def get(session: AsyncSession, id_hash: str, now: int) -> PortalSession | None:
    row = await session.execute(
        select(PortalSession).where(
            col(PortalSession.id_hash) == id_hash, col(PortalSession.expires_at) > now
        )
    )
    return row.scalar_one_or_none()


async def put(
    session: AsyncSession, id_hash: str, data: str, now: int, idle: int, max_age: int
) -> None:
    """Create or update; the expiry moves with activity but never past ``max_age``."""
    row = await session.get(PortalSession, id_hash)
    if row is None:
        row = PortalSession(
            id_hash=id_hash, data=data, created_at=now, updated_at=now, expires_at=now + idle
        )
    row.data = data
    row.updated_at = now
    row.expires_at = min(now + idle, row.created_at + max_age)
    session.add(row)


async def remove(session: AsyncSession, id_hash: str) -> None:
    await session.execute(delete(PortalSession).where(col(PortalSession.id_hash) == id_hash))


async def purge_expired(session: AsyncSession, now: int) -> int:
    result = await session.execute(
        delete(PortalSession).where(col(PortalSession.expires_at) <= now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
