"""Every query of usages, and the radar's statements."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    Uuid,
    and_,
    bindparam,
    cast,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from servicekit.repository import Repository

from ..common import table_reader
from ..facilities.models import Facility
from ..lookups import CatalogueLookups
from ..offerings.models import Offering
from ..organisations.models import Organisation
from .models import Usage

CURRENT = ("planned", "active")
# "Current" written as the partial indexes' own predicate, so PostgreSQL can use them.
ENDED = "ended"
READER = table_reader(Usage.__table__, "usage", counted=True, order_by=("created_at", "id"))


def followed_up(contract: Any) -> Any:
    """A decision already made about ``contract`` (a Usage or an alias of it): the same
    municipality has another current (planned or active) usage of the same facility
    starting on or after the contract's end. One probe of ``ix_usages_current``
    (municipality, facility; not ended) per contract: its predicate is written as a
    literal, not a bound parameter, so a generic plan of the prepared statement can use
    the partial index too."""
    follow_up = aliased(Usage)
    return exists().where(
        follow_up.municipality_id == contract.municipality_id,
        follow_up.facility_id == contract.facility_id,
        follow_up.status != literal_column(f"'{ENDED}'"),
        follow_up.id != contract.id,
        follow_up.start_date >= contract.contract_end_date,
    )


class UsageRepository(CatalogueLookups, Repository[Usage]):
    model = Usage
    label = "usage"

    async def current_of(
        self, municipality_id: uuid.UUID, facility_id: uuid.UUID, own: uuid.UUID | None
    ) -> Sequence[Any]:
        """(id, status, start, end, inherited from) of the municipality's current usages
        of a facility."""
        query = select(
            Usage.id,
            Usage.status,
            Usage.start_date,
            Usage.contract_end_date,
            Usage.inherited_from_id,
        ).where(
            Usage.municipality_id == municipality_id,
            Usage.facility_id == facility_id,
            Usage.status.in_(CURRENT),
        )
        if own is not None:
            query = query.where(Usage.id != own)
        return (await self.session.execute(query)).all()

    # The radar. Works in a transaction or in autocommit (each statement sees committed data).

    async def facility_theme(self, facility_id: uuid.UUID) -> str | None:
        return (
            await self.session.execute(_FACILITY_THEME, {"facility_id": facility_id})
        ).scalar_one_or_none()

    async def offering_facility(self, offering_id: uuid.UUID) -> uuid.UUID | None:
        return (
            await self.session.execute(_OFFERING_FACILITY, {"offering_id": offering_id})
        ).scalar_one_or_none()

    async def radar_rows(
        self, values: dict[str, Any], with_offering: bool, offset: int, limit: int | None
    ) -> tuple[Sequence[Any], int, bool]:
        """Contracts that could move to the facility: on PostgreSQL with a limit, one
        ranked page (rows with their ``deadline``) and its total; elsewhere all of them,
        unranked. The flag says which."""
        query, ranked, count = radar_statements(with_offering)
        assert self.session.bind is not None
        if self.session.bind.dialect.name == "postgresql" and limit is not None:
            page = (
                await self.session.execute(ranked, {**values, "offset": offset, "limit": limit})
            ).all()
            if page:
                total = int(page[0].total_count)
            elif offset == 0:
                total = 0
            else:
                total = int((await self.session.execute(count, values)).scalar_one())
            return page, total, True
        rows = (await self.session.execute(query, values)).all()
        return rows, len(rows), False

    async def ending_contracts(
        self, organisation_id: uuid.UUID, today: date, horizon: date
    ) -> Sequence[tuple[Usage, Facility]]:
        query = (
            select(Usage, Facility)
            .join(Facility, Facility.id == Usage.facility_id)
            .where(
                Usage.municipality_id == organisation_id,
                Usage.status.in_(CURRENT),
                Usage.contract_end_date.is_not(None),
                Usage.contract_end_date >= today,
                Usage.contract_end_date <= horizon,
                ~followed_up(Usage),
            )
        )
        return (await self.session.execute(query)).tuples().all()

    async def used_facilities(self, organisation_id: uuid.UUID) -> set[uuid.UUID]:
        query = select(Usage.facility_id).where(
            Usage.municipality_id == organisation_id, Usage.status.in_(CURRENT)
        )
        return set((await self.session.execute(query)).scalars())

    async def facilities_in(self, themes: Iterable[str], stages: Iterable[str]) -> list[Facility]:
        query = (
            select(Facility)
            .where(Facility.theme.in_(list(themes)), Facility.stage.in_(list(stages)))
            .order_by(Facility.name)
        )
        return list((await self.session.execute(query)).scalars())


@lru_cache(maxsize=2)
def radar_statements(with_offering: bool) -> tuple[Any, Any, Any]:
    """The radar's statements, built once (building and cache-keying a statement of this
    size costs more than running it): everything request-specific is a bound parameter
    (``facility_id``, ``theme``, ``today``, ``horizon``, ``offering_id``, ``offset``,
    ``limit``). Returns (all matching contracts, one ranked page with its total on
    PostgreSQL, the number of matching contracts)."""
    facility_id = bindparam("facility_id", type_=Uuid())
    offering_id = bindparam("offering_id", type_=Uuid())
    current = aliased(Usage)
    # A municipality already on board: a current usage of the target (through the
    # collective offering when one is named).
    on_board = exists().where(
        current.municipality_id == Usage.municipality_id,
        current.facility_id == facility_id,
        current.status != ENDED,
        *([current.offering_id == offering_id] if with_offering else []),
    )
    same_facility_competing = (
        and_(Usage.facility_id == facility_id, Usage.offering_id.is_distinct_from(offering_id))
        if with_offering
        else false()
    )
    # Plain columns, not ORM entities: a theme can hold thousands of contracts.
    query = (
        select(
            Usage.id,
            Usage.offering_id,
            Usage.contract_end_date,
            Usage.notice_period_months,
            Organisation.id.label("municipality_id"),
            Organisation.name.label("municipality_name"),
            Organisation.cbs_code,
            Organisation.province,
            Facility.id.label("facility_id"),
            Facility.name.label("facility_name"),
        )
        .join(Facility, Facility.id == Usage.facility_id)
        .join(Organisation, Organisation.id == Usage.municipality_id)
        .where(
            Usage.status != ENDED,
            Usage.contract_end_date.is_not(None),
            Usage.contract_end_date >= bindparam("today", type_=Date()),
            Usage.contract_end_date <= bindparam("horizon", type_=Date()),
            or_(
                and_(
                    Facility.theme == bindparam("theme", type_=String()),
                    Facility.id != facility_id,
                ),
                same_facility_competing,
            ),
            ~on_board,
            ~followed_up(Usage),
        )
    )
    # PostgreSQL: deadline, order, page and total in the database, so only the page's
    # rows travel. ``date - make_interval(months => n)`` clamps to the month's end like
    # add_months; names in code-point order (collation "C", as Python sorts them); uuid
    # order is the order of its text form.
    deadline = cast(
        Usage.contract_end_date
        - func.make_interval(0, func.coalesce(Usage.notice_period_months, 0)),
        Date,
    ).label("deadline")
    ranked = (
        query.add_columns(deadline, func.count().over().label("total_count"))
        .order_by(deadline, Organisation.name.collate("C"), Usage.id)
        .offset(bindparam("offset", type_=Integer()))
        .limit(bindparam("limit", type_=Integer()))
    )
    count = select(func.count()).select_from(query.subquery())
    return query, ranked, count


_FACILITY_THEME = select(Facility.theme).where(
    Facility.id == bindparam("facility_id", type_=Uuid())
)


_OFFERING_FACILITY = select(Offering.facility_id).where(
    Offering.id == bindparam("offering_id", type_=Uuid())
)
