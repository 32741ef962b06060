"""Every query of initiatives: proposals, pledges, pilot participants, impact analyses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Conflict

from ..facilities.models import Facility
from ..organisations.models import Organisation
from ..pilots.models import ImpactAnalysis, PilotParticipation
from .models import OPEN_STAGES, Initiative, Pledge

# A municipality's tie to a facility (:mod:`registry.initiatives.ties`).
Tie = TypeVar("Tie", Pledge, PilotParticipation)


async def facility(
    session: AsyncSession, facility_id: uuid.UUID, *, lock: bool = False
) -> Facility | None:
    return await session.get(Facility, facility_id, with_for_update=lock)


async def organisation(session: AsyncSession, organisation_id: uuid.UUID) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def slug_taken(session: AsyncSession, slug: str) -> bool:
    found = await session.execute(select(Facility.id).where(Facility.slug == slug).limit(1))
    return found.scalar_one_or_none() is not None


async def add(session: AsyncSession, row: Any, duplicate: str) -> None:
    """Insert; a unique constraint lost to a concurrent twin is a 409."""
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(duplicate, slug="duplicate") from exc


def _with_proposer() -> Select[Any]:
    """Facilities with the initiative's proposal time and proposer, when there is one."""
    return (
        select(
            Facility,
            Initiative.proposed_at,
            Organisation.id.label("org_id"),
            Organisation.name.label("org_name"),
            Organisation.type.label("org_type"),
            Organisation.province.label("org_province"),
        )
        .outerjoin(Initiative, Initiative.facility_id == Facility.id)
        .outerjoin(Organisation, Organisation.id == Initiative.proposed_by_id)
    )


async def open_facilities(session: AsyncSession, stage: str | None) -> list[Any]:
    """Facilities still being shaped (or one stage of them), with their proposer."""
    stages = [stage] if stage else list(OPEN_STAGES)
    rows = await session.execute(_with_proposer().where(Facility.stage.in_(stages)))
    return list(rows.all())


async def one_facility_with_proposer(session: AsyncSession, facility_id: uuid.UUID) -> Any:
    rows = await session.execute(_with_proposer().where(Facility.id == facility_id))
    return rows.one_or_none()


async def pledges_of(session: AsyncSession, facility_ids: Sequence[uuid.UUID]) -> list[Any]:
    """Every pledge of these facilities with its municipality's province."""
    if not facility_ids:
        return []
    rows = await session.execute(
        select(
            Pledge.facility_id,
            Pledge.municipality_id,
            Pledge.kind,
            Pledge.amount,
            Organisation.province,
        )
        .join(Organisation, Organisation.id == Pledge.municipality_id)
        .where(Pledge.facility_id.in_(list(facility_ids)))
    )
    return list(rows.all())


async def participant_counts(
    session: AsyncSession, facility_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not facility_ids:
        return {}
    rows = await session.execute(
        select(PilotParticipation.facility_id, func.count())
        .where(PilotParticipation.facility_id.in_(list(facility_ids)))
        .group_by(PilotParticipation.facility_id)
    )
    return {facility_id: int(n) for facility_id, n in rows.tuples()}


async def latest_outcomes(
    session: AsyncSession, facility_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not facility_ids:
        return {}
    rows = await session.execute(
        select(ImpactAnalysis.facility_id, ImpactAnalysis.outcome)
        .where(ImpactAnalysis.facility_id.in_(list(facility_ids)))
        .order_by(ImpactAnalysis.facility_id, ImpactAnalysis.recorded_at)
    )
    return dict(rows.tuples().all())  # the latest of each facility comes last


async def ties_page(
    session: AsyncSession, model: type[Tie], facility_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[tuple[Tie, Organisation]], int]:
    total = await session.execute(
        select(func.count()).select_from(model).where(model.facility_id == facility_id)
    )
    rows = await session.execute(
        select(model, Organisation)
        .join(Organisation, Organisation.id == model.municipality_id)
        .where(model.facility_id == facility_id)
        .order_by(Organisation.name, model.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows.tuples().all()), int(total.scalar_one())


async def tie(
    session: AsyncSession, model: type[Tie], facility_id: uuid.UUID, tie_id: uuid.UUID
) -> Tie | None:
    found = await session.execute(
        select(model).where(model.id == tie_id, model.facility_id == facility_id)
    )
    return found.scalar_one_or_none()


async def tie_of(
    session: AsyncSession, model: type[Tie], facility_id: uuid.UUID, municipality_id: uuid.UUID
) -> Tie | None:
    found = await session.execute(
        select(model).where(
            model.facility_id == facility_id, model.municipality_id == municipality_id
        )
    )
    return found.scalar_one_or_none()


async def delete_tie(session: AsyncSession, row: Pledge | PilotParticipation) -> None:
    model = type(row)
    await session.execute(delete(model).where(model.id == row.id))
