"""A person's disclosure log, as the person reads it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.pagination import PageParams

from . import repository
from .schemas import DisclosureOut


async def disclosures_of(
    session: AsyncSession, person: Principal, sector: str, params: PageParams
) -> tuple[list[DisclosureOut], int]:
    """The disclosures of the person whose pairwise ``sub`` in the client ``sector`` the
    token carries."""
    person_hash = await repository.person_of(session, sector, person.subject)
    if person_hash is None:
        return [], 0
    rows, total = await repository.page_of_person(
        session, person_hash, params.offset, params.page_size
    )
    return [DisclosureOut.model_validate(row) for row in rows], total
