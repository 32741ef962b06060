"""A person's disclosure log, as the person reads it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from . import repository
from .models import Disclosure


async def disclosures_of(
    session: AsyncSession, sector: str, sub: str, offset: int, limit: int
) -> tuple[list[Disclosure], int]:
    """The disclosures of the person a client sector's pairwise ``sub`` stands for."""
    person_hash = await repository.person_of(session, sector, sub)
    if person_hash is None:
        return [], 0
    return await repository.page_of_person(session, person_hash, offset, limit)
