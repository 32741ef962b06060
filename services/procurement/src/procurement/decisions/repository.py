"""The query of the decisions-ahead view: the joint tenders that could replace a contract."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..tenders.models import Tender
from ..tenders.terms import DRAFT, OPEN


async def joinable_tenders(
    session: AsyncSession, facility_ids: Iterable[uuid.UUID], now: datetime
) -> list[Tender]:
    """Drafts (planned) and tenders still open for enrollment, for these facilities."""
    ids = list(set(facility_ids))
    if not ids:
        return []
    query = (
        select(Tender)
        .where(
            col(Tender.facility_id).in_(ids),
            (col(Tender.status) == DRAFT)
            | ((col(Tender.status) == OPEN) & (col(Tender.enrollment_closes_at) > now)),
        )
        .order_by(col(Tender.enrollment_closes_at), col(Tender.id))
    )
    return list((await session.execute(query)).scalars())
