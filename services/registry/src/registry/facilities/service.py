"""Rules and transactions for facilities and their lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, NotFound
from servicekit.events import current_trace_id
from servicekit.pagination import PageParams

from ..changes.service import Actor, record_change
from ..common import etag_of, read_by_id, read_list
from ..db import utcnow
from ..organisations.models import Organisation
from .models import STAGES, Facility, StageTransition
from .schemas import (
    FacilityCreate,
    FacilityOut,
    FacilityPatch,
    StageTransitionCreate,
    StageTransitionOut,
)


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


def etag(facility: Facility) -> str:
    return etag_of(facility.id, facility.revision)


def transition_out(row: StageTransition) -> StageTransitionOut:
    return StageTransitionOut(
        id=row.id,
        facility_id=row.facility_id,
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        reason=row.reason,
        actor=row.actor,
        actor_organisation=row.actor_org,
        at=row.at,
    )


async def list_facilities(
    database: Database, filters: FacilityFilter, params: PageParams
) -> tuple[list[FacilityOut], int]:
    rows, total = await read_list(
        database,
        Facility.__table__,  # type: ignore[arg-type]
        params,
        order_by=("name", "id"),
        equal={
            "slug": filters.slug,
            "kind": filters.kind,
            "theme": filters.theme.lower() if filters.theme else None,
            "stage": filters.stage,
            "provider_id": filters.provider_id,
        },
        text=filters.q,
        text_columns=("name", "description", "slug"),
    )
    return [FacilityOut.model_validate(dict(r)) for r in rows], total


async def load(
    session: AsyncSession, facility_id: uuid.UUID, *, for_update: bool = False
) -> Facility:
    query = select(Facility).where(Facility.id == facility_id)
    if for_update:
        query = query.with_for_update()
    facility = (await session.execute(query)).scalar_one_or_none()
    if facility is None:
        raise NotFound(f"No facility with id {facility_id}.")
    return facility


async def get_facility(database: Database, facility_id: uuid.UUID) -> tuple[FacilityOut, str]:
    return await read_by_id(database, Facility.__table__, facility_id, FacilityOut, "facility")  # type: ignore[arg-type]


async def _check_slug(session: AsyncSession, slug: str, own_id: uuid.UUID | None) -> None:
    query = select(Facility.id).where(Facility.slug == slug)
    if own_id is not None:
        query = query.where(Facility.id != own_id)
    existing = (await session.execute(query)).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            f"The slug '{slug}' is taken by another facility.",
            slug="duplicate",
            extra={"existingId": str(existing)},
        )


async def _check_provider(session: AsyncSession, provider_id: uuid.UUID | None) -> None:
    if provider_id is None:
        return
    found = (
        await session.execute(select(Organisation.id).where(Organisation.id == provider_id))
    ).scalar_one_or_none()
    if found is None:
        raise BadRequest(
            "The provider organisation does not exist.",
            invalid_params=[{"name": "providerId", "reason": "unknown organisation"}],
        )


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("The slug is taken by another facility.", slug="duplicate") from exc


def _payload(out: FacilityOut) -> dict[str, Any]:
    return out.model_dump(mode="json", by_alias=True)


async def create_facility(
    session: AsyncSession, actor: Actor, data: FacilityCreate
) -> tuple[FacilityOut, str]:
    async with session.begin():
        await _check_slug(session, data.slug, None)
        await _check_provider(session, data.provider_id)
        now = utcnow()
        values = data.model_dump()
        facility = Facility(**values, revision=1, created_at=now, updated_at=now)
        session.add(facility)
        await _flush(session)
        out = to_out(facility)
        await record_change(
            session,
            actor,
            entity="facility",
            entity_id=facility.id,
            action="created",
            data=_payload(out),
        )
    return out, etag(facility)


async def update_facility(
    session: AsyncSession,
    actor: Actor,
    facility_id: uuid.UUID,
    patch: FacilityPatch,
    check_etag: Callable[[str], None],
) -> tuple[FacilityOut, str]:
    changes = patch.model_dump(exclude_unset=True)
    required = [k for k in ("slug", "name", "kind", "theme") if k in changes and changes[k] is None]
    if required:
        raise BadRequest(
            "These fields cannot be removed.",
            invalid_params=[{"name": k, "reason": "required"} for k in required],
        )
    for key in ("links", "standards", "description"):
        if key in changes and changes[key] is None:
            changes[key] = [] if key != "description" else ""
    async with session.begin():
        facility = await load(session, facility_id, for_update=True)
        check_etag(etag(facility))
        if "slug" in changes:
            await _check_slug(session, changes["slug"], facility.id)
        if "provider_id" in changes:
            await _check_provider(session, changes["provider_id"])
        for field, value in changes.items():
            setattr(facility, field, value)
        facility.revision += 1
        facility.updated_at = utcnow()
        await _flush(session)
        out = to_out(facility)
        await record_change(
            session,
            actor,
            entity="facility",
            entity_id=facility.id,
            action="updated",
            data=_payload(out),
            changes=patch.model_dump(mode="json", by_alias=True, exclude_unset=True),
        )
    return out, etag(facility)


async def delete_facility(
    session: AsyncSession,
    actor: Actor,
    facility_id: uuid.UUID,
    check_etag: Callable[[str], None] | None,
) -> None:
    # Imported here: usages and offerings depend on facilities, not the other way round.
    from ..offerings.models import Offering
    from ..usages.models import Usage

    async with session.begin():
        facility = await load(session, facility_id, for_update=True)
        if check_etag is not None:
            check_etag(etag(facility))
        usages = (
            await session.execute(
                select(Usage.id, Usage.municipality_id, Usage.status)
                .where(Usage.facility_id == facility.id)
                .order_by(Usage.id)
                .limit(100)
            )
        ).all()
        offerings = (
            (
                await session.execute(
                    select(Offering.id).where(Offering.facility_id == facility.id).limit(100)
                )
            )
            .scalars()
            .all()
        )
        if usages or offerings:
            raise Conflict(
                "The facility is in use or offered; retire it through a stage transition instead.",
                slug="facility-in-use",
                extra={
                    "blockingUsages": [
                        {
                            "id": str(u.id),
                            "municipalityId": str(u.municipality_id),
                            "status": u.status,
                        }
                        for u in usages
                    ],
                    "blockingOfferings": [str(o) for o in offerings],
                },
            )
        out = to_out(facility)
        await session.execute(
            delete(StageTransition).where(StageTransition.facility_id == facility.id)
        )
        await session.delete(facility)
        await record_change(
            session,
            actor,
            entity="facility",
            entity_id=facility.id,
            action="deleted",
            data=_payload(out),
        )


async def transition_stage(
    session: AsyncSession, actor: Actor, facility_id: uuid.UUID, data: StageTransitionCreate
) -> StageTransitionOut:
    """Move a facility forward in its lifecycle (never back, never to the same stage)."""
    async with session.begin():
        facility = await load(session, facility_id, for_update=True)
        current = facility.stage
        if STAGES.index(data.to_stage) <= STAGES.index(current):
            allowed = list(STAGES[STAGES.index(current) + 1 :])
            raise Conflict(
                f"A facility in stage '{current}' cannot move to '{data.to_stage}'; "
                "stages only move forward.",
                slug="illegal-stage-transition",
                extra={"currentStage": current, "allowedStages": allowed},
            )
        now = utcnow()
        # Compare-and-set on the stage: a concurrent move of the same facility loses here
        # even where the row lock above is a no-op (SQLite serialises writers anyway).
        result = await session.execute(
            update(Facility)
            .where(Facility.id == facility.id, Facility.stage == current)
            .values(stage=data.to_stage, revision=Facility.revision + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 1) != 1:
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
        session.add(row)
        await session.flush()
        await session.refresh(facility)
        out = transition_out(row)
        await record_change(
            session,
            actor,
            entity="facility",
            entity_id=facility.id,
            action="stage-changed",
            data={**_payload(to_out(facility)), "fromStage": current, "reason": data.reason},
            changes={"fromStage": current, "toStage": data.to_stage, "reason": data.reason},
        )
    return out


async def list_transitions(
    session: AsyncSession, facility_id: uuid.UUID, params: PageParams
) -> tuple[list[StageTransitionOut], int]:
    await load(session, facility_id)
    base = select(StageTransition).where(StageTransition.facility_id == facility_id)
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    rows = await session.execute(
        base.order_by(StageTransition.at, StageTransition.id)
        .offset(params.offset)
        .limit(params.page_size)
    )
    return [transition_out(r) for r in rows.scalars()], int(total)


async def get_transition(
    session: AsyncSession, facility_id: uuid.UUID, transition_id: uuid.UUID
) -> StageTransitionOut:
    row = (
        await session.execute(
            select(StageTransition).where(
                StageTransition.facility_id == facility_id, StageTransition.id == transition_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No stage transition {transition_id} for facility {facility_id}.")
    return transition_out(row)
