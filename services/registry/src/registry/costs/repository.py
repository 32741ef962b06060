"""Every query of cost insight: population figures and the annual costs of usages."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..facilities.models import Facility
from ..organisations.models import Organisation
from ..usages.models import Usage
from .models import PopulationFigure

MUNICIPALITY = "municipality"


async def municipalities_by_cbs(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        select(Organisation.cbs_code, Organisation.id).where(
            Organisation.type == MUNICIPALITY, Organisation.cbs_code.in_(list(set(codes)))
        )
    )
    return {code: org_id for code, org_id in rows.tuples() if code}


async def replace_figures(
    session: AsyncSession,
    year: int,
    source: str,
    figures: dict[uuid.UUID, int],
    actor: str,
    at: datetime,
) -> None:
    """Store one year's figures of these municipalities, replacing what that year had."""
    await session.execute(
        delete(PopulationFigure).where(
            PopulationFigure.year == year, PopulationFigure.municipality_id.in_(list(figures))
        )
    )
    session.add_all(
        PopulationFigure(
            municipality_id=municipality_id,
            year=year,
            inhabitants=inhabitants,
            source=source,
            loaded_by=actor,
            loaded_at=at,
        )
        for municipality_id, inhabitants in figures.items()
    )
    await session.flush()


async def figures_page(
    session: AsyncSession,
    year: int | None,
    municipality_id: uuid.UUID | None,
    offset: int,
    limit: int,
) -> tuple[list[Any], int]:
    query = select(
        PopulationFigure.municipality_id,
        Organisation.name.label("municipality_name"),
        Organisation.cbs_code,
        PopulationFigure.year,
        PopulationFigure.inhabitants,
        PopulationFigure.source,
        PopulationFigure.loaded_at,
    ).join(Organisation, Organisation.id == PopulationFigure.municipality_id)
    if year is not None:
        query = query.where(PopulationFigure.year == year)
    if municipality_id is not None:
        query = query.where(PopulationFigure.municipality_id == municipality_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(
        query.order_by(Organisation.name, PopulationFigure.year.desc()).offset(offset).limit(limit)
    )
    return list(rows.all()), int(total)


async def latest_population(
    session: AsyncSession, municipality_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, PopulationFigure]:
    """Each municipality's most recent figure (none for those without one)."""
    ids = list(set(municipality_ids))
    if not ids:
        return {}
    latest = (
        select(PopulationFigure.municipality_id, func.max(PopulationFigure.year).label("year"))
        .where(PopulationFigure.municipality_id.in_(ids))
        .group_by(PopulationFigure.municipality_id)
        .subquery()
    )
    rows = await session.execute(
        select(PopulationFigure).join(
            latest,
            (latest.c.municipality_id == PopulationFigure.municipality_id)
            & (latest.c.year == PopulationFigure.year),
        )
    )
    return {figure.municipality_id: figure for figure in rows.scalars()}


async def active_usage_costs(session: AsyncSession, municipality_id: uuid.UUID) -> list[Any]:
    rows = await session.execute(
        select(Usage.id, Usage.facility_id, Facility.name, Usage.status, Usage.annual_cost)
        .join(Facility, Facility.id == Usage.facility_id)
        .where(Usage.municipality_id == municipality_id, Usage.status == "active")
        .order_by(Facility.name, Usage.id)
    )
    return list(rows.all())


async def facility_costs(
    session: AsyncSession, facility_id: uuid.UUID
) -> tuple[dict[uuid.UUID, Decimal], int]:
    """Known annual cost per municipality of the facility's active usages, and how many
    active usages carry no cost."""
    rows = await session.execute(
        select(Usage.municipality_id, Usage.annual_cost).where(
            Usage.facility_id == facility_id, Usage.status == "active"
        )
    )
    costs: dict[uuid.UUID, Decimal] = {}
    without = 0
    for municipality_id, cost in rows.tuples():
        if cost is None:
            without += 1
        else:
            costs[municipality_id] = costs.get(municipality_id, Decimal(0)) + Decimal(cost)
    return costs, without


async def facility(session: AsyncSession, facility_id: uuid.UUID) -> Facility | None:
    return await session.get(Facility, facility_id)
