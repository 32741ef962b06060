"""Every query of initial access tokens and registration access tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..clients.models import Client
from .models import InitialAccessToken


async def add(session: AsyncSession, row: InitialAccessToken) -> None:
    session.add(row)


async def get(session: AsyncSession, token_id: uuid.UUID) -> InitialAccessToken | None:
    return await session.get(InitialAccessToken, token_id)


async def spend(session: AsyncSession, token_hash: str, client_id: str, now: datetime) -> bool:
    """Mark an unused, unexpired initial access token used (only one use can)."""
    result = await session.execute(
        update(InitialAccessToken)
        .where(
            col(InitialAccessToken.token_hash) == token_hash,
            col(InitialAccessToken.used_at).is_(None),
            col(InitialAccessToken.expires_at) > now,
        )
        .values(used_at=now, used_for=client_id)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def client_by_registration_token(
    session: AsyncSession, client_id: str, token_hash: str
) -> Client | None:
    query = select(Client).where(
        col(Client.client_id) == client_id, col(Client.registration_token_hash) == token_hash
    )
    return (await session.execute(query)).scalar_one_or_none()
