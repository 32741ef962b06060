"""Every query of pilots: participants and impact analyses."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..organisations.models import Organisation
from .models import ImpactAnalysis, PilotParticipation


async def participants_page(
    session: AsyncSession, facility_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[tuple[PilotParticipation, Organisation]], int]:
    total = await session.execute(
        select(func.count())
        .select_from(PilotParticipation)
        .where(PilotParticipation.facility_id == facility_id)
    )
    rows = await session.execute(
        select(PilotParticipation, Organisation)
        .join(Organisation, Organisation.id == PilotParticipation.municipality_id)
        .where(PilotParticipation.facility_id == facility_id)
        .order_by(Organisation.name, PilotParticipation.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows.tuples().all()), int(total.scalar_one())


async def participation(
    session: AsyncSession, facility_id: uuid.UUID, participation_id: uuid.UUID
) -> PilotParticipation | None:
    found = await session.execute(
        select(PilotParticipation).where(
            PilotParticipation.id == participation_id,
            PilotParticipation.facility_id == facility_id,
        )
    )
    return found.scalar_one_or_none()


async def delete_participation(session: AsyncSession, row: PilotParticipation) -> None:
    await session.execute(delete(PilotParticipation).where(PilotParticipation.id == row.id))


async def participation_of(
    session: AsyncSession, facility_id: uuid.UUID, municipality_id: uuid.UUID
) -> PilotParticipation | None:
    found = await session.execute(
        select(PilotParticipation).where(
            PilotParticipation.facility_id == facility_id,
            PilotParticipation.municipality_id == municipality_id,
        )
    )
    return found.scalar_one_or_none()


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
