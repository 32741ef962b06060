"""Every query of notice alerts."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..usages.models import Usage
from .models import NoticeAlert


async def candidates(session: AsyncSession, today: date, days: int) -> list[Any]:
    """Current contracts whose notice deadline can fall within ``days`` of today: their end
    lies between today and today + days + the longest notice period (the deadline itself
    needs month arithmetic, done by the caller)."""
    longest = (
        await session.execute(
            select(func.max(Usage.notice_period_months)).where(Usage.status != "ended")
        )
    ).scalar_one_or_none() or 0
    horizon = today + timedelta(days=days) + timedelta(days=31 * longest)
    rows = await session.execute(
        select(
            Usage.id,
            Usage.municipality_id,
            Usage.facility_id,
            Usage.offering_id,
            Usage.contract_end_date,
            Usage.notice_period_months,
        ).where(
            Usage.status != "ended",
            Usage.contract_end_date >= today,
            Usage.contract_end_date <= horizon,
        )
    )
    return list(rows.all())


async def claimed(
    session: AsyncSession, usage_ids: list[uuid.UUID]
) -> set[tuple[uuid.UUID, int, date]]:
    found: set[tuple[uuid.UUID, int, date]] = set()
    for start in range(0, len(usage_ids), 500):
        rows = await session.execute(
            select(
                NoticeAlert.usage_id, NoticeAlert.threshold_days, NoticeAlert.notice_deadline
            ).where(NoticeAlert.usage_id.in_(usage_ids[start : start + 500]))
        )
        found.update(rows.tuples())
    return found


async def claim(
    session: AsyncSession,
    usage_id: uuid.UUID,
    threshold: int,
    deadline: date,
    announced: bool,
    at: datetime,
) -> bool:
    """Insert the claim unless it exists (a concurrent scheduler's insert waits for the
    other's commit, then does nothing); True when this one inserted it."""
    values = {"usage_id": usage_id, "threshold_days": threshold, "notice_deadline": deadline,
              "announced": announced, "at": at}  # fmt: skip
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(NoticeAlert).values(**values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def alerts_of(session: AsyncSession, usage_id: uuid.UUID) -> list[NoticeAlert]:
    rows = await session.execute(
        select(NoticeAlert)
        .where(NoticeAlert.usage_id == usage_id)
        .order_by(NoticeAlert.at, NoticeAlert.threshold_days.desc())
    )
    return list(rows.scalars())


async def municipality_of(session: AsyncSession, usage_id: uuid.UUID) -> uuid.UUID | None:
    """The municipality of the usage, None when there is no such usage."""
    usage = await session.get(Usage, usage_id)
    return None if usage is None else usage.municipality_id
