"""Rules and transactions for facilities and their lifecycle."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, NotFound
from servicekit.events import current_trace_id
from servicekit.http import IfMatch
from servicekit.pagination import PageParams
from servicekit.repository import etag_of

from ..auth import require_operator
from ..changes.service import record_out
from ..common import duplicate
from ..pilots.service import require_analysis
from . import repository
from .models import STAGES, Facility, StageTransition
from .repository import FacilityRepository
from .schemas import (
    FacilityCreate,
    FacilityOut,
    FacilityPatch,
    StageTransitionCreate,
    StageTransitionOut,
)

TAKEN = "The slug is taken by another facility."


@dataclass(frozen=True)
class FacilityFilter:
    slug: str | None = None
    kind: str | None = None
    theme: str | None = None
    stage: str | None = None
    provider_id: uuid.UUID | None = None
    q: str | None = None


def to_out(facility: Facility) -> FacilityOut:
    return FacilityOut.model_validate(facility)


def transition_out(row: StageTransition) -> StageTransitionOut:
    return StageTransitionOut.from_row(row, actor_organisation=row.actor_org)


async def list_facilities(
    database: Database, filters: FacilityFilter, params: PageParams
) -> tuple[list[FacilityOut], int]:
    equal = {
        "slug": filters.slug,
        "kind": filters.kind,
        "theme": filters.theme.lower() if filters.theme else None,
        "stage": filters.stage,
        "provider_id": filters.provider_id,
    }
    rows, total = await repository.READER.page(database, params, equal, filters.q)
    return [FacilityOut.model_validate(dict(r)) for r in rows], total


async def get_facility(database: Database, facility_id: uuid.UUID) -> tuple[FacilityOut, str]:
    row = await repository.READER.get(database, facility_id)
    return FacilityOut.model_validate(dict(row)), etag_of(row["id"], row["revision"])


async def _check_slug(repo: FacilityRepository, slug: str, own_id: uuid.UUID | None) -> None:
    existing = await repo.slug_taken(slug, own_id)
    if existing is not None:
        raise duplicate(
            f"The slug '{slug}' is taken by another facility.", "slug", "taken", existing
        )


async def _check_provider(repo: FacilityRepository, provider_id: uuid.UUID | None) -> None:
    if provider_id is None:
        return
    provider = await repo.organisation(provider_id)
    if provider is None:
        raise BadRequest(
            "The provider organisation does not exist.",
            invalid_params=[{"name": "providerId", "reason": "unknown organisation"}],
        )
    if provider.ended_on is not None:
        # An organisation ended by a merger provides nothing new: its successor does.
        raise BadRequest(
            f"{provider.name} ended on {provider.ended_on.isoformat()} (a merger).",
            invalid_params=[{"name": "providerId", "reason": "ended by a merger"}],
        )


async def create_facility(
    session: AsyncSession, principal: Principal, data: FacilityCreate
) -> tuple[FacilityOut, str]:
    require_operator(principal, "register facilities")
    actor = Actor.of(principal)
    repo = FacilityRepository(session)
    async with session.begin():
        await _check_slug(repo, data.slug, None)
        await _check_provider(repo, data.provider_id)
        now = utcnow()
        facility = Facility(**data.model_dump(), revision=1, created_at=now, updated_at=now)
        await repo.add(facility, conflict=TAKEN)
        out = to_out(facility)
        await record_out(session, actor, "facility", "created", out)
    return out, repo.etag(facility)


def _patch_values(patch: FacilityPatch) -> dict[str, object]:
    """The fields to change: required ones cannot be removed (400), optional ones
    removed become empty."""
    changes = patch.model_dump(exclude_unset=True)
    required = [k for k in ("slug", "name", "kind", "theme") if k in changes and changes[k] is None]
    if required:
        raise BadRequest(
            "These fields cannot be removed.",
            invalid_params=[{"name": k, "reason": "required"} for k in required],
        )
    for key, empty in (("links", []), ("standards", []), ("description", "")):
        if key in changes and changes[key] is None:
            changes[key] = empty
    return changes


async def update_facility(
    session: AsyncSession,
    principal: Principal,
    facility_id: uuid.UUID,
    patch: FacilityPatch,
    if_match: IfMatch,
) -> tuple[FacilityOut, str]:
    require_operator(principal, "change facilities")
    actor = Actor.of(principal)
    changes = _patch_values(patch)
    repo = FacilityRepository(session)
    async with session.begin():
        facility = await repo.get_checked(facility_id, if_match)
        if "slug" in changes:
            await _check_slug(repo, str(changes["slug"]), facility.id)
        if "provider_id" in changes:
            await _check_provider(repo, changes["provider_id"])  # type: ignore[arg-type]
        await repo.save(facility, changes, conflict=TAKEN)
        out = to_out(facility)
        await record_out(session, actor, "facility", "updated", out, changes=patch)
    return out, repo.etag(facility)


async def delete_facility(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, if_match: IfMatch
) -> None:
    require_operator(principal, "delete facilities")
    actor = Actor.of(principal)
    repo = FacilityRepository(session)
    async with session.begin():
        facility = await repo.get_checked(facility_id, if_match)
        blockers = await repo.blockers(facility.id)
        if blockers:
            # Commitments (pledges, co-funding, pilot places) and assessments are records
            # the municipalities rely on: never removed along with a facility.
            raise Conflict(
                "The facility is in use, offered or supported; retire it through a stage "
                "transition instead.",
                slug="facility-in-use",
                extra={
                    "blockingUsages": [
                        {
                            "id": str(u.id),
                            "municipalityId": str(u.municipality_id),
                            "status": u.status,
                        }
                        for u in blockers.usages
                    ],
                    "blockingOfferings": [str(o) for o in blockers.offerings],
                    "blockingPledges": [str(p) for p in blockers.pledges],
                    "blockingPilotParticipants": [str(p) for p in blockers.pilot_participants],
                    "blockingImpactAnalyses": [str(a) for a in blockers.impact_analyses],
                },
            )
        out = to_out(facility)
        await repo.remove(facility)
        await record_out(session, actor, "facility", "deleted", out)


async def transition_stage(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, data: StageTransitionCreate
) -> StageTransitionOut:
    """Move a facility forward in its lifecycle (never back, never to the same stage)."""
    require_operator(principal, "change the stage of facilities")
    actor = Actor.of(principal)
    repo = FacilityRepository(session)
    async with session.begin():
        facility = await repo.get(facility_id, for_update=True)
        current = facility.stage
        if STAGES.index(data.to_stage) <= STAGES.index(current):
            raise Conflict(
                f"A facility in stage '{current}' cannot move to '{data.to_stage}'; "
                "stages only move forward.",
                slug="illegal-stage-transition",
                extra={
                    "currentStage": current,
                    "allowedStages": list(STAGES[STAGES.index(current) + 1 :]),
                },
            )
        await require_analysis(session, facility.id, current, data.to_stage)
        now = utcnow()
        if not await repo.move_stage(facility, current, data.to_stage, now):
            raise Conflict(
                "The facility's stage changed meanwhile; read it again.", slug="stage-changed"
            )
        row = StageTransition(
            facility_id=facility.id,
            from_stage=current,
            to_stage=data.to_stage,
            reason=data.reason,
            actor=actor.subject,
            actor_org=actor.org_id,
            at=now,
            trace_id=current_trace_id(),
        )
        await repo.add_transition(row, facility)
        await record_out(
            session,
            actor,
            "facility",
            "stage-changed",
            to_out(facility),
            changes={"fromStage": current, "toStage": data.to_stage, "reason": data.reason},
            fromStage=current,
            reason=data.reason,
        )
    return transition_out(row)


async def list_transitions(
    session: AsyncSession, facility_id: uuid.UUID, params: PageParams
) -> tuple[list[StageTransitionOut], int]:
    repo = FacilityRepository(session)
    await repo.get(facility_id)
    rows, total = await repo.transitions(facility_id, params)
    return [transition_out(r) for r in rows], total


async def get_transition(
    session: AsyncSession, facility_id: uuid.UUID, transition_id: uuid.UUID
) -> StageTransitionOut:
    row = await FacilityRepository(session).transition(facility_id, transition_id)
    if row is None:
        raise NotFound(f"No stage transition {transition_id} for facility {facility_id}.")
    return transition_out(row)
