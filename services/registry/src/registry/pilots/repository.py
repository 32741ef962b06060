"""Every query of pilots: participants and impact analyses."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import ImpactAnalysis


async def analyses(session: AsyncSession, facility_id: uuid.UUID) -> list[ImpactAnalysis]:
    rows = await session.execute(
        select(ImpactAnalysis)
        .where(ImpactAnalysis.facility_id == facility_id)
        .order_by(ImpactAnalysis.recorded_at, ImpactAnalysis.id)
    )
    return list(rows.scalars())


async def latest_outcome(session: AsyncSession, facility_id: uuid.UUID) -> str | None:
    found = await session.execute(
        select(ImpactAnalysis.outcome)
        .where(ImpactAnalysis.facility_id == facility_id)
        .order_by(ImpactAnalysis.recorded_at.desc(), ImpactAnalysis.id.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()
