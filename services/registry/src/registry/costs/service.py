"""Cost insight rules: population figures are loaded whole or not at all, and a
per-inhabitant figure exists only where every inhabitant count it needs was loaded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, NotFound
from servicekit.pagination import PageParams
from servicekit.schemas import FROM_TEXT

from ..auth import require_operator
from ..changes.service import record_change
from ..contracts import ContractView
from ..csvfile import CsvRow, param, read_csv
from ..organisations.service import municipality_of
from . import repository
from .schemas import (
    FacilityCosts,
    MunicipalityCosts,
    Population,
    PopulationFigureOut,
    PopulationImportOut,
    PopulationLoad,
    PopulationLoadOut,
    PopulationRow,
    UsageCost,
)

POPULATION_COLUMNS = ("code", "inhabitants", "year", "source")
# Header names as people write them (compared without case, spaces or punctuation).
POPULATION_ALIASES = {
    "cbscode": "code",
    "gemeentecode": "code",
    "inwoners": "inhabitants",
    "inwonertal": "inhabitants",
    "jaar": "year",
    "bron": "source",
}
# Every municipality for several years; the service's body limit comes first anyway.
MAX_CSV_ROWS = 5000


def per_inhabitant(total: Decimal, inhabitants: int | None) -> Decimal | None:
    if not inhabitants:
        return None
    return (total / inhabitants).quantize(Decimal("0.01"))


async def _store_load(
    session: AsyncSession,
    actor: Actor,
    year: int,
    source: str,
    figures: dict[uuid.UUID, int],
) -> PopulationLoadOut:
    """One year's figures from one source, stored with its event on the change feed."""
    await repository.replace_figures(session, year, source, figures, actor.subject, utcnow())
    out = PopulationLoadOut(year=year, source=source, loaded=len(figures))
    await record_change(
        session,
        actor,
        entity="population-figures",
        entity_id=uuid.uuid5(uuid.NAMESPACE_URL, f"population-figures/{year}"),
        action="loaded",
        data=out.model_dump(mode="json", by_alias=True),
        subject_path=f"population-figures?year={year}",
    )
    return out


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
        return await _store_load(session, Actor.of(principal), body.year, body.source, figures)


def _checked_rows(
    rows: list[CsvRow],
) -> tuple[list[tuple[int, PopulationRow]], list[dict[str, str]]]:
    """Each row checked on its own: the valid ones, and a problem per wrong cell."""
    valid: list[tuple[int, PopulationRow]] = []
    problems: list[dict[str, str]] = []
    for row in rows:
        empty = [c for c in POPULATION_COLUMNS if not row.values[c]]
        for column in empty:
            problems.append({"name": param(row.number, column), "reason": "field required"})
        try:
            valid.append((row.number, PopulationRow.model_validate(row.values, context=FROM_TEXT)))
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else "row"
                if column not in empty:
                    problems.append({"name": param(row.number, column), "reason": error["msg"]})
    return valid, problems


def _by_row_and_column(problem: dict[str, str]) -> tuple[int, int]:
    head, _, column = problem["name"].partition(".")
    order = POPULATION_COLUMNS.index(column) if column in POPULATION_COLUMNS else 0
    return int(head.removeprefix("rows[").removesuffix("]")), order


async def import_population(
    session: AsyncSession, principal: Principal, body: bytes, dry_run: bool
) -> PopulationImportOut:
    """A CSV file of figures (code, inhabitants, year, source per row), operator only:
    every row must be valid, name a known municipality and not repeat a municipality's
    year, or nothing is stored. A dry run checks the same and stores nothing."""
    require_operator(principal, "load population figures")
    rows = read_csv(body, POPULATION_COLUMNS, POPULATION_ALIASES, MAX_CSV_ROWS)
    valid, problems = _checked_rows(rows)
    async with session.begin():
        known = await repository.municipalities_by_cbs(session, [r.code for _, r in valid])
        first_row: dict[tuple[str, int], int] = {}
        groups: dict[tuple[int, str], dict[uuid.UUID, int]] = {}
        for number, row in valid:
            if row.code not in known:
                problems.append({"name": param(number, "code"), "reason": "unknown municipality"})
                continue
            earlier = first_row.setdefault((row.code, row.year), number)
            if earlier != number:
                problems.append(
                    {"name": param(number, "code"), "reason": f"listed twice (row {earlier})"}
                )
                continue
            groups.setdefault((row.year, row.source), {})[known[row.code]] = row.inhabitants
        if problems:
            problems.sort(key=_by_row_and_column)
            raise BadRequest(
                f"{len({p['name'].split('.')[0] for p in problems})} of {len(rows)} rows "
                "cannot be stored; none were.",
                invalid_params=problems,
            )
        actor = Actor.of(principal)
        loads = []
        for (year, source), figures in sorted(groups.items()):
            if dry_run:
                loads.append(PopulationLoadOut(year=year, source=source, loaded=len(figures)))
            else:
                loads.append(await _store_load(session, actor, year, source, figures))
    stored = 0 if dry_run else sum(load.loaded for load in loads)
    return PopulationImportOut(dry_run=dry_run, rows=len(rows), stored=stored, loads=loads)


@dataclass(frozen=True)
class FigureFilter:
    year: int | None = None
    municipality_id: uuid.UUID | None = None


async def list_figures(
    session: AsyncSession, filters: FigureFilter, params: PageParams
) -> tuple[list[PopulationFigureOut], int]:
    rows, total = await repository.figures_page(
        session, filters.year, filters.municipality_id, params.offset, params.page_size
    )
    return [PopulationFigureOut.model_validate(row, from_attributes=True) for row in rows], total


async def municipality_costs(
    session: AsyncSession, view: ContractView, organisation_id: uuid.UUID
) -> MunicipalityCosts:
    view.require(organisation_id, "its costs")
    municipality = await municipality_of(
        session, organisation_id, "Costs are kept per municipality."
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
        population=Population.from_row(figure) if figure else None,
        cost_per_inhabitant=per_inhabitant(total, figure.inhabitants) if figure else None,
        usages=[UsageCost.from_row(row, usage_id=row.id, facility_name=row.name) for row in rows],
    )


async def facility_costs(
    session: AsyncSession, view: ContractView, facility_id: uuid.UUID
) -> FacilityCosts:
    view.require_every("the costs of a facility")
    facility = await repository.facility(session, facility_id)
    if facility is None:
        raise NotFound(f"No facility with id {facility_id}.")
    costs, with_cost, without = await repository.facility_costs(session, facility_id)
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
        usages_with_cost=with_cost,
        usages_without_cost=without,
        inhabitants=inhabitants,
        cost_per_inhabitant=per_inhabitant(total, inhabitants),
    )
