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
from ..mergers.models import MunicipalityMerger
from ..organisations.models import Organisation
from ..usages.models import Usage
from .models import PopulationFigure
from .population import Figure, Merger, by_successor, usable_figure

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


async def _mergers_into(
    session: AsyncSession, municipality_ids: Iterable[uuid.UUID]
) -> list[Merger]:
    """The mergers these municipalities succeeded in, and those of their predecessors."""
    found: list[Merger] = []
    seen: set[uuid.UUID] = set()
    frontier = set(municipality_ids)
    while frontier:
        seen |= frontier
        rows = await session.execute(
            select(
                MunicipalityMerger.successor_id,
                MunicipalityMerger.predecessor_ids,
                MunicipalityMerger.effective_date,
            ).where(MunicipalityMerger.successor_id.in_(list(frontier)))
        )
        frontier = set()
        for successor_id, predecessor_ids, effective_date in rows.tuples():
            predecessors = tuple(uuid.UUID(str(p)) for p in predecessor_ids)
            found.append(Merger(successor_id, predecessors, effective_date))
            frontier.update(p for p in predecessors if p not in seen)
    return found


async def latest_population(
    session: AsyncSession, municipality_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Figure]:
    """Each municipality's most recent figure that counts all its inhabitants (none for
    those without one): for a successor in a merger, see ``population``."""
    ids = list(set(municipality_ids))
    if not ids:
        return {}
    mergers = await _mergers_into(session, ids)
    query = select(PopulationFigure)
    if mergers:
        # Every year of the successors and their predecessors: an older year may add up.
        members = set(ids).union(*(m.predecessor_ids for m in mergers))
        query = query.where(PopulationFigure.municipality_id.in_(list(members)))
    else:
        latest = (
            select(PopulationFigure.municipality_id, func.max(PopulationFigure.year).label("year"))
            .where(PopulationFigure.municipality_id.in_(ids))
            .group_by(PopulationFigure.municipality_id)
            .subquery()
        )
        query = query.join(
            latest,
            (latest.c.municipality_id == PopulationFigure.municipality_id)
            & (latest.c.year == PopulationFigure.year),
        )
    figures: dict[uuid.UUID, dict[int, Figure]] = {}
    for row in (await session.execute(query)).scalars():
        figures.setdefault(row.municipality_id, {})[row.year] = Figure(
            row.municipality_id, row.year, row.inhabitants, row.source
        )
    grouped = by_successor(mergers)
    usable = {m: usable_figure(m, figures, grouped) for m in ids}
    return {m: figure for m, figure in usable.items() if figure is not None}


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
) -> tuple[dict[uuid.UUID, Decimal], int, int]:
    """Known annual cost per municipality of the facility's active usages, how many
    active usages carry a cost and how many carry none."""
    rows = await session.execute(
        select(Usage.municipality_id, Usage.annual_cost).where(
            Usage.facility_id == facility_id, Usage.status == "active"
        )
    )
    costs: dict[uuid.UUID, Decimal] = {}
    with_cost = without = 0
    for municipality_id, cost in rows.tuples():
        if cost is None:
            without += 1
        else:
            with_cost += 1
            costs[municipality_id] = costs.get(municipality_id, Decimal(0)) + Decimal(cost)
    return costs, with_cost, without


async def facility(session: AsyncSession, facility_id: uuid.UUID) -> Facility | None:
    return await session.get(Facility, facility_id)
