"""Rules and the transaction of a municipal merger (herindeling).

Everything that was the predecessors' passes to the successor in one transaction, each
change with its history row and event (who, when; the usages name the municipality that
concluded them): usages, support pledges and pilot participations (one per facility:
a second is folded into the successor's), and places in cooperations. Exposure to
vulnerabilities passes with the usages: the successor hears of what it is now exposed
to and each predecessor of what it no longer is (addressed events). The predecessors
stay readable as ended organisations with ``endedOn`` and ``successorId`` and take no
new writes. A merger is recorded on or after the day it takes effect; a preview
(``dry_run``) runs the same transaction and rolls it back.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import dutch_today, utcnow
from servicekit.db import transaction
from servicekit.errors import BadRequest
from servicekit.pagination import PageParams

from ..auth import MUNICIPALITY, require_operator
from ..changes.service import record_change, record_out
from ..initiatives import repository as ties_repository
from ..initiatives.models import Pledge
from ..initiatives.service import PLEDGES
from ..initiatives.ties import TieKind
from ..organisations.models import Organisation
from ..organisations.service import member_ids_of, require_not_ended
from ..organisations.service import to_out as organisation_out
from ..pilots.service import PARTICIPANTS
from ..usages.service import to_out as usage_out
from ..vulnerabilities.service import announce_moved_usages, exposure_of_municipalities
from .models import MunicipalityMerger
from .repository import MergerRepository
from .schemas import MergerCreate, MergerMoves, MergerOut

# A folded pledge keeps the strongest commitment of the two.
PLEDGE_STRENGTH = {"interest": 0, "pilot": 1, "co-fund": 2}


def to_out(row: MunicipalityMerger) -> MergerOut:
    return MergerOut.from_row(
        row,
        dry_run=False,
        ended_on=row.effective_date - timedelta(days=1),
        moves=MergerMoves.model_validate(row.moved),
    )


async def list_mergers(
    session: AsyncSession, successor_id: uuid.UUID | None, params: PageParams
) -> tuple[list[MergerOut], int]:
    rows, total = await MergerRepository(session).list_page(successor_id, params)
    return [to_out(row) for row in rows], total


async def get_merger(session: AsyncSession, merger_id: uuid.UUID) -> MergerOut:
    return to_out(await MergerRepository(session).get(merger_id))


def _check_request(data: MergerCreate, today: date) -> None:
    problems = []
    for index, predecessor in enumerate(data.predecessor_ids):
        if predecessor in data.predecessor_ids[:index]:
            problems.append({"name": f"predecessorIds[{index}]", "reason": "listed twice"})
        if predecessor == data.successor_id:
            problems.append({"name": f"predecessorIds[{index}]", "reason": "the successor itself"})
    if data.effective_date == date.min:  # the predecessors' last day would be before it
        problems.append({"name": "effectiveDate", "reason": "must be after 0001-01-01"})
    if data.effective_date > today:
        problems.append(
            {"name": "effectiveDate", "reason": "in the future: record it on or after that day"}
        )
    if problems:
        raise BadRequest("These municipalities cannot merge like this.", invalid_params=problems)


def _municipalities(
    data: MergerCreate, found: dict[uuid.UUID, Organisation]
) -> tuple[list[Organisation], Organisation]:
    problems = []
    named = [(f"predecessorIds[{i}]", p) for i, p in enumerate(data.predecessor_ids)]
    for name, org_id in [*named, ("successorId", data.successor_id)]:
        org = found.get(org_id)
        if org is None:
            problems.append({"name": name, "reason": "unknown organisation"})
        elif org.type != MUNICIPALITY:
            problems.append({"name": name, "reason": "not a municipality"})
    if problems:
        raise BadRequest("Only municipalities merge.", invalid_params=problems)
    for org_id in [*data.predecessor_ids, data.successor_id]:
        require_not_ended(found[org_id])
    return [found[p] for p in data.predecessor_ids], found[data.successor_id]


def _fold_pledge(into: Pledge, other: Pledge) -> None:
    if PLEDGE_STRENGTH[other.kind] > PLEDGE_STRENGTH[into.kind]:
        into.kind = other.kind
    amounts = [a for a in (into.amount, other.amount) if a is not None]
    into.amount = sum(amounts, Decimal(0)) if amounts else None
    into.note = "\n".join(n for n in (into.note, other.note) if n)


async def _move_ties(
    repo: MergerRepository,
    actor: Actor | None,
    kind: TieKind[Any, Any],
    predecessor: Organisation,
    successor: Organisation,
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The predecessor's ties of this kind: moved, or folded into the successor's own."""
    moved: list[uuid.UUID] = []
    folded: list[uuid.UUID] = []
    for row in await repo.ties_of(kind.model, predecessor.id):
        own = await ties_repository.tie_of(repo.session, kind.model, row.facility_id, successor.id)
        if own is None:
            row.municipality_id = successor.id
            await repo.session.flush()
            moved.append(row.id)
            await _tie_event(repo, actor, kind, row, successor, "transferred")
            continue
        if isinstance(own, Pledge):
            _fold_pledge(own, row)
        folded.append(row.id)
        await _tie_event(repo, actor, kind, row, predecessor, "combined", combinedIntoId=own.id)
        await ties_repository.delete_tie(repo.session, row)
        await repo.session.flush()
        await _tie_event(repo, actor, kind, own, successor, "updated")
    return moved, folded


async def _tie_event(
    repo: MergerRepository,
    actor: Actor | None,
    kind: TieKind[Any, Any],
    row: Any,
    municipality: Organisation,
    action: str,
    **extra: Any,
) -> None:
    if actor is None:  # a preview
        return
    out = kind.out(row, municipality)
    await record_change(
        repo.session,
        actor,
        entity=kind.entity,
        entity_id=row.id,
        action=action,
        data={
            **out.model_dump(mode="json", by_alias=True),
            **{k: str(v) for k, v in extra.items()},
        },
        subject_path=kind.path(row.facility_id, row.id),
    )


async def merge(
    session: AsyncSession, principal: Principal, data: MergerCreate, *, dry_run: bool
) -> MergerOut:
    """The merger as of today (in the Netherlands); a dry run stores nothing."""
    require_operator(principal, "merge municipalities")
    actor, today = Actor.of(principal), dutch_today()
    _check_request(data, today)
    repo = MergerRepository(session)
    ended_on = data.effective_date - timedelta(days=1)
    async with transaction(session, dry_run=dry_run):
        found = await repo.organisations([*data.predecessor_ids, data.successor_id])
        predecessors, successor = _municipalities(data, found)
        merger_id = uuid.uuid4()
        events = None if dry_run else actor
        moves = await _move_everything(repo, events, predecessors, successor, merger_id)
        now = utcnow()
        for predecessor in predecessors:
            predecessor.ended_on = ended_on
            predecessor.successor_id = successor.id
            predecessor.revision += 1
            predecessor.updated_at = now
        await session.flush()
        result = MergerOut(
            id=None if dry_run else merger_id,
            dry_run=dry_run,
            predecessor_ids=data.predecessor_ids,
            successor_id=successor.id,
            effective_date=data.effective_date,
            ended_on=ended_on,
            moves=moves,
            recorded_by=None if dry_run else actor.subject,
            recorded_at=None if dry_run else now,
        )
        if dry_run:
            return result
        for predecessor in predecessors:
            await record_out(
                session, actor, "organisation", "ended",
                organisation_out(predecessor, []), mergerId=str(merger_id),
            )  # fmt: skip
        session.add(
            MunicipalityMerger(
                id=merger_id,
                successor_id=successor.id,
                predecessor_ids=[str(p) for p in data.predecessor_ids],
                effective_date=data.effective_date,
                moved=moves.model_dump(mode="json"),
                recorded_by=actor.subject,
                recorded_at=now,
            )
        )
        await record_out(session, actor, "municipality-merger", "created", result)
    return result


async def _move_everything(
    repo: MergerRepository,
    actor: Actor | None,
    predecessors: list[Organisation],
    successor: Organisation,
    merger_id: uuid.UUID,
) -> MergerMoves:
    usage_ids: list[uuid.UUID] = []
    pledges: tuple[list[uuid.UUID], list[uuid.UUID]] = ([], [])
    pilots: tuple[list[uuid.UUID], list[uuid.UUID]] = ([], [])
    cooperations: set[uuid.UUID] = set()
    now = utcnow()
    merging = [*(p.id for p in predecessors), successor.id]
    exposed = {} if actor is None else await exposure_of_municipalities(repo.session, merging)
    for predecessor in predecessors:
        for usage in await repo.usages_of(predecessor.id):
            usage.municipality_id = successor.id
            usage.inherited_from_id = usage.inherited_from_id or predecessor.id
            usage.revision += 1
            usage.updated_at = now
            usage_ids.append(usage.id)
            if actor is not None:
                await repo.session.flush()
                await record_out(
                    repo.session, actor, "usage", "transferred", usage_out(usage),
                    mergerId=str(merger_id),
                )  # fmt: skip
        for kind, (moved, folded) in ((PLEDGES, pledges), (PARTICIPANTS, pilots)):
            found = await _move_ties(repo, actor, kind, predecessor, successor)
            moved += found[0]
            folded += found[1]
        for cooperation_id in await repo.cooperations_of(predecessor.id):
            await repo.hand_over_membership(cooperation_id, predecessor.id, successor.id)
            cooperations.add(cooperation_id)
    if actor is not None:
        # The predecessors' exposure passes to the successor with their usages.
        await repo.session.flush()
        await announce_moved_usages(repo.session, actor, exposed, merging)
        members = await member_ids_of(repo.session, cooperations)
        for cooperation in (await repo.organisations(sorted(cooperations))).values():
            cooperation.revision += 1
            cooperation.updated_at = now
            await record_out(
                repo.session, actor, "organisation", "updated",
                organisation_out(cooperation, members.get(cooperation.id, [])),
                mergerId=str(merger_id),
            )  # fmt: skip
    return MergerMoves(
        usage_ids=usage_ids,
        pledge_ids=pledges[0],
        combined_pledge_ids=pledges[1],
        pilot_participation_ids=pilots[0],
        combined_pilot_participation_ids=pilots[1],
        cooperation_ids=sorted(cooperations),
    )
