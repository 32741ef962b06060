"""Cost insight rules: population figures are loaded whole or not at all, and a
per-inhabitant figure exists only where every inhabitant count it needs was loaded."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, NotFound

from ..auth import MUNICIPALITY, require_operator
from ..changes.service import record_change
from . import repository
from .schemas import (
    FacilityCosts,
    MunicipalityCosts,
    Population,
    PopulationFigureOut,
    PopulationLoad,
    PopulationLoadOut,
    UsageCost,
)


def per_inhabitant(total: Decimal, inhabitants: int | None) -> Decimal | None:
    if not inhabitants:
        return None
    return (total / inhabitants).quantize(Decimal("0.01"))


async def load_population(
    session: AsyncSession, principal: Principal, body: PopulationLoad
) -> PopulationLoadOut:
    """Operator only; every CBS code must name a known municipality, once."""
    require_operator(principal, "load population figures")
    codes = [line.cbs_code for line in body.figures]
    async with session.begin():
        known = await repository.municipalities_by_cbs(session, codes)
        seen: set[str] = set()
        problems = []
        for i, code in enumerate(codes):
            if code not in known:
                problems.append({"name": f"figures[{i}].cbsCode", "reason": "unknown municipality"})
            elif code in seen:
                problems.append({"name": f"figures[{i}].cbsCode", "reason": "listed twice"})
            seen.add(code)
        if problems:
            raise BadRequest("Some figures cannot be stored; none were.", invalid_params=problems)
        figures = {known[line.cbs_code]: line.inhabitants for line in body.figures}
        actor = Actor.of(principal)
        await repository.replace_figures(
            session, body.year, body.source, figures, actor.subject, utcnow()
        )
        out = PopulationLoadOut(year=body.year, source=body.source, loaded=len(figures))
        await record_change(
            session,
            actor,
            entity="population-figures",
            entity_id=uuid.uuid5(uuid.NAMESPACE_URL, f"population-figures/{body.year}"),
            action="loaded",
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=f"population-figures?year={body.year}",
        )
    return out


async def list_figures(
    session: AsyncSession,
    year: int | None,
    municipality_id: uuid.UUID | None,
    offset: int,
    limit: int,
) -> tuple[list[PopulationFigureOut], int]:
    rows, total = await repository.figures_page(session, year, municipality_id, offset, limit)
    return [PopulationFigureOut.model_validate(row, from_attributes=True) for row in rows], total


async def municipality_costs(
    session: AsyncSession, organisation_id: uuid.UUID
) -> MunicipalityCosts:
    municipality = await repository.organisation(session, organisation_id)
    if municipality is None:
        raise NotFound(f"No organisation with id {organisation_id}.")
    if municipality.type != MUNICIPALITY:
        raise BadRequest(
            "Costs are kept per municipality.",
            invalid_params=[{"name": "organisationId", "reason": "not a municipality"}],
        )
    rows = await repository.active_usage_costs(session, organisation_id)
    known = [Decimal(row.annual_cost) for row in rows if row.annual_cost is not None]
    total = sum(known, Decimal(0))
    figure = (await repository.latest_population(session, [organisation_id])).get(organisation_id)
    return MunicipalityCosts(
        municipality_id=municipality.id,
        municipality_name=municipality.name,
        annual_cost_total=total,
        usages_with_cost=len(known),
        usages_without_cost=len(rows) - len(known),
        population=Population(
            inhabitants=figure.inhabitants, year=figure.year, source=figure.source
        )
        if figure
        else None,
        cost_per_inhabitant=per_inhabitant(total, figure.inhabitants) if figure else None,
        usages=[
            UsageCost(
                usage_id=row.id,
                facility_id=row.facility_id,
                facility_name=row.name,
                status=row.status,
                annual_cost=row.annual_cost,
            )
            for row in rows
        ],
    )


async def facility_costs(session: AsyncSession, facility_id: uuid.UUID) -> FacilityCosts:
    facility = await repository.facility(session, facility_id)
    if facility is None:
        raise NotFound(f"No facility with id {facility_id}.")
    costs, without = await repository.facility_costs(session, facility_id)
    total = sum(costs.values(), Decimal(0))
    figures = await repository.latest_population(session, costs)
    # One municipality without a figure would make the quotient a guess: leave it out.
    inhabitants = (
        sum(figures[m].inhabitants for m in costs) if costs and set(costs) <= set(figures) else None
    )
    return FacilityCosts(
        facility_id=facility.id,
        facility_name=facility.name,
        annual_cost_total=total,
        usages_with_cost=len(costs),
        usages_without_cost=without,
        inhabitants=inhabitants,
        cost_per_inhabitant=per_inhabitant(total, inhabitants),
    )
