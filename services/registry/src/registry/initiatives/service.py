"""Initiative rules: who may propose and pledge, when support and pilots are open, the
impact analysis a facility needs before implementation, and the ranking by support."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, NotFound
from servicekit.pagination import PageParams

from ..auth import MUNICIPALITY
from ..changes.service import record_change, record_out
from ..common import duplicate
from ..costs.repository import latest_population
from ..facilities.models import Facility
from ..facilities.service import to_out as facility_out
from ..organisations.service import require_not_ended
from . import repository, ties
from .models import OPEN_STAGES, Initiative, Pledge
from .schemas import (
    InitiativeCreate,
    InitiativeOut,
    OrganisationRef,
    PledgeCreate,
    PledgeOut,
    ProvinceSupport,
    Support,
)
from .ties import TieKind, organisation_of, require_staff

PROPOSERS = (MUNICIPALITY, "cooperation")


# --- the catalogue of initiatives, ranked by support ---------------------------------


def _support(pledges: list[Any], population: dict[uuid.UUID, Any]) -> Support:
    kinds = Counter(p.kind for p in pledges)
    provinces = Counter(p.province for p in pledges)
    covered = [
        population[p.municipality_id].inhabitants
        for p in pledges
        if p.municipality_id in population
    ]
    return Support(
        pledges=len(pledges),
        interest=kinds["interest"],
        pilot=kinds["pilot"],
        co_fund=kinds["co-fund"],
        co_fund_amount=sum(
            (Decimal(p.amount) for p in pledges if p.amount is not None), Decimal(0)
        ),
        provinces=[
            ProvinceSupport(province=province, pledges=n)
            for province, n in sorted(provinces.items(), key=lambda kv: (-kv[1], kv[0] or ""))
        ],
        inhabitants_covered=sum(covered),
        supporters_without_population=len(pledges) - len(covered),
    )


async def _initiatives(session: AsyncSession, rows: list[Any]) -> list[InitiativeOut]:
    ids = [row.Facility.id for row in rows]
    pledges = await repository.pledges_of(session, ids)
    population = await latest_population(session, {p.municipality_id for p in pledges})
    participants = await repository.participant_counts(session, ids)
    outcomes = await repository.latest_outcomes(session, ids)
    by_facility: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for p in pledges:
        by_facility[p.facility_id].append(p)
    items = []
    for row in rows:
        facility: Facility = row.Facility
        items.append(
            InitiativeOut.from_row(
                facility,
                facility_id=facility.id,
                proposed_by=OrganisationRef(
                    id=row.org_id, name=row.org_name, type=row.org_type, province=row.org_province
                )
                if row.org_id
                else None,
                proposed_at=row.proposed_at,
                support=_support(by_facility[facility.id], population),
                pilot_participants=participants.get(facility.id, 0),
                impact_analysis_outcome=outcomes.get(facility.id),
                rank=0,
            )
        )
    # Most supporting municipalities first, then most inhabitants covered, then name.
    items.sort(
        key=lambda i: (
            -i.support.pledges,
            -i.support.inhabitants_covered,
            i.name,
            str(i.facility_id),
        )
    )
    for rank, item in enumerate(items, 1):
        item.rank = rank
    return items


async def list_initiatives(
    session: AsyncSession, stage: str | None, params: PageParams
) -> tuple[Sequence[InitiativeOut], int]:
    """Facilities still being shaped, ranked by support (computed over all of them: they
    are tens, not thousands)."""
    items = await _initiatives(session, await repository.open_facilities(session, stage))
    return params.window(items), len(items)


async def get_initiative(session: AsyncSession, facility_id: uuid.UUID) -> InitiativeOut:
    row = await repository.one_facility_with_proposer(session, facility_id)
    if row is None:
        raise NotFound(f"No facility with id {facility_id}.")
    item = (await _initiatives(session, [row]))[0]
    if row.Facility.stage in OPEN_STAGES:
        ranked = await _initiatives(session, await repository.open_facilities(session, None))
        item.rank = next(i.rank for i in ranked if i.facility_id == facility_id)
    return item


# --- proposing --------------------------------------------------------------------------


async def propose(
    session: AsyncSession, principal: Principal, body: InitiativeCreate
) -> InitiativeOut:
    async with session.begin():
        proposer = await organisation_of(session, body.proposed_by_id, "proposedById", PROPOSERS)
        require_staff(principal, proposer, PROPOSERS)
        require_not_ended(proposer)
        if await repository.slug_taken(session, body.slug):
            raise duplicate("The slug is taken by another facility.", "slug", "taken")
        now = utcnow()
        values = body.model_dump(exclude={"proposed_by_id"})
        facility = Facility(
            **values, stage="initiative", revision=1, created_at=now, updated_at=now
        )
        await repository.add(session, facility, "The slug is taken by another facility.")
        initiative = Initiative(
            facility_id=facility.id,
            proposed_by_id=proposer.id,
            proposed_by_subject=principal.subject[:200],
            proposed_at=now,
        )
        await repository.add(session, initiative, "Already proposed.")
        # The facility is new to every mirror of the feed: its own event first.
        actor = Actor.of(principal)
        await record_out(session, actor, "facility", "created", facility_out(facility))
        out = (
            await _initiatives(
                session, [await repository.one_facility_with_proposer(session, facility.id)]
            )
        )[0]
        await record_change(
            session,
            actor,
            entity="initiative",
            entity_id=facility.id,
            action="proposed",
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=f"facilities/{facility.id}",
        )
    return out


# --- pledges ------------------------------------------------------------------------------


def _check_amount(body: PledgeCreate) -> None:
    if body.kind == "co-fund" and not body.amount:
        raise BadRequest(
            "A pledge to co-fund names the amount.",
            invalid_params=[{"name": "amount", "reason": "required (above 0) for co-fund"}],
        )
    if body.kind != "co-fund" and body.amount is not None:
        raise BadRequest(
            "Only a pledge to co-fund carries an amount.",
            invalid_params=[{"name": "amount", "reason": "only for co-fund"}],
        )


def _closed(stage: str) -> str:
    return (
        f"Support is pledged while a facility is shaped ({', '.join(OPEN_STAGES)}); "
        f"this one is {stage}."
    )


PLEDGES: TieKind[Pledge, PledgeOut] = TieKind(
    model=Pledge,
    schema=PledgeOut,
    entity="pledge",
    collection="pledges",
    stages=OPEN_STAGES,
    closed=_closed,
    closed_slug="support-closed",
    duplicate="The municipality already pledged support; withdraw it to pledge anew.",
    taken="The municipality already pledged support.",
    made="created",
    ended="withdrawn",
)


async def pledge(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, body: PledgeCreate
) -> PledgeOut:
    _check_amount(body)
    values = body.model_dump(exclude={"municipality_id"})
    return await ties.make(PLEDGES, session, principal, facility_id, body.municipality_id, values)


async def withdraw_pledge(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, pledge_id: uuid.UUID
) -> None:
    await ties.end(PLEDGES, session, principal, facility_id, pledge_id)


async def list_pledges(
    session: AsyncSession, facility_id: uuid.UUID, params: PageParams
) -> tuple[list[PledgeOut], int]:
    return await ties.page(PLEDGES, session, facility_id, params)
