"""Every query of the disclosure log and the pairwise subjects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..clients.repository import insert_ignoring_duplicates
from .models import Disclosure, PairwiseSubject

SUBJECTS: Table = PairwiseSubject.__table__  # type: ignore[attr-defined]


async def person_of(session: AsyncSession, sector: str, sub: str) -> str | None:
    link = await session.get(PairwiseSubject, (sector, sub))
    return link.person_hash if link is not None else None


async def page_of_person(
    session: AsyncSession, person_hash: str, offset: int, limit: int
) -> tuple[list[Disclosure], int]:
    where = col(Disclosure.person_hash) == person_hash
    count = select(func.count()).select_from(Disclosure).where(where)
    total = (await session.execute(count)).scalar_one()
    query = select(Disclosure).where(where).order_by(col(Disclosure.at).desc())
    rows = (await session.execute(query.offset(offset).limit(limit))).scalars().all()
    return list(rows), int(total)


async def remember_subject(session: AsyncSession, sector: str, sub: str, person_hash: str) -> None:
    """Record which person a pairwise subject stands for (kept if already known)."""
    values: dict[str, Any] = {"sector": sector, "sub": sub, "person_hash": person_hash}
    dialect = session.bind.dialect.name
    await session.execute(insert_ignoring_duplicates(SUBJECTS, dialect).values(**values))
