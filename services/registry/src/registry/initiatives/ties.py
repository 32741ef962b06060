"""A municipality's tie to a facility being shaped: a support pledge or a pilot
participation. Both follow one rule set, described once by a :class:`TieKind`: the
municipality's own staff make and end it, only while the facility is in the stages the
kind allows, one per municipality and facility, each change on the change feed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound
from servicekit.pagination import PageParams
from servicekit.schemas import ApiOutModel

from ..auth import MUNICIPALITY
from ..changes.service import record_change
from ..facilities.models import Facility
from ..organisations.models import Organisation
from ..organisations.service import require_not_ended
from . import repository
from .repository import Tie
from .schemas import OrganisationRef

Out = TypeVar("Out", bound=ApiOutModel)
MUNICIPALITIES = (MUNICIPALITY,)


def org_ref(org: Organisation) -> OrganisationRef:
    return OrganisationRef.from_row(org)


def require_staff(principal: Principal, org: Organisation, types: tuple[str, ...]) -> None:
    """Only the organisation's own staff: token org_type its type, org_id its OIN."""
    if org.type not in types or principal.org_type != org.type or not org.oin:
        raise Forbidden(f"Only staff of the {' or '.join(types)} itself may do this.")
    principal.require_org(org.oin, "this organisation's support")


async def organisation_of(
    session: AsyncSession, org_id: uuid.UUID, name: str, types: tuple[str, ...]
) -> Organisation:
    org = await repository.organisation(session, org_id)
    if org is None or org.type not in types:
        raise BadRequest(
            f"No {' or '.join(types)} with this id.",
            invalid_params=[{"name": name, "reason": f"not a known {' or '.join(types)}"}],
        )
    return org


async def facility_of(
    session: AsyncSession, facility_id: uuid.UUID, lock: bool = False
) -> Facility:
    found = await repository.facility(session, facility_id, lock=lock)
    if found is None:
        raise NotFound(f"No facility with id {facility_id}.")
    return found


@dataclass(frozen=True)
class TieKind(Generic[Tie, Out]):
    model: type[Tie]
    schema: type[Out]
    entity: str  # the change feed's entity type, e.g. "pledge"
    collection: str  # the path segment below the facility, e.g. "pledges"
    stages: tuple[str, ...]  # stages of the facility in which a tie is made
    closed: Callable[[str], str]  # why not in this stage
    closed_slug: str
    duplicate: str  # the municipality already has a tie of this kind
    taken: str  # a concurrent twin won the race
    made: str  # the change's action when made, e.g. "created"
    ended: str  # … and when ended, e.g. "withdrawn"

    def out(self, row: Tie, municipality: Organisation) -> Out:
        """The schema's fields from the row's columns of the same name, and the municipality."""
        fields = {
            name: getattr(row, name) for name in self.schema.model_fields if name != "municipality"
        }
        return self.schema.model_validate(fields | {"municipality": org_ref(municipality)})

    def path(self, facility_id: uuid.UUID, tie_id: uuid.UUID) -> str:
        return f"facilities/{facility_id}/{self.collection}/{tie_id}"


def require_open(kind: TieKind[Tie, Out], facility: Facility) -> None:
    """Ties of this kind are made and ended in the kind's stages only (409 otherwise)."""
    if facility.stage not in kind.stages:
        raise Conflict(
            kind.closed(facility.stage),
            slug=kind.closed_slug,
            extra={"currentStage": facility.stage},
        )


async def make(
    kind: TieKind[Tie, Out],
    session: AsyncSession,
    principal: Principal,
    facility_id: uuid.UUID,
    municipality_id: uuid.UUID,
    values: dict[str, Any] | None = None,
) -> Out:
    """Tie the municipality to the facility; ``values``: the kind's own columns."""
    async with session.begin():
        facility = await facility_of(session, facility_id)
        municipality = await organisation_of(
            session, municipality_id, "municipalityId", MUNICIPALITIES
        )
        require_staff(principal, municipality, MUNICIPALITIES)
        require_not_ended(municipality)
        require_open(kind, facility)
        existing = await repository.tie_of(session, kind.model, facility_id, municipality.id)
        if existing is not None:
            raise Conflict(kind.duplicate, slug="duplicate", extra={"existingId": str(existing.id)})
        row = kind.model(
            facility_id=facility_id,
            municipality_id=municipality.id,
            created_at=utcnow(),
            **(values or {}),
        )
        await repository.add(session, row, kind.taken)
        out = kind.out(row, municipality)
        await record_change(
            session,
            Actor.of(principal),
            entity=kind.entity,
            entity_id=row.id,
            action=kind.made,
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=kind.path(facility_id, row.id),
        )
    return out


async def end(
    kind: TieKind[Tie, Out],
    session: AsyncSession,
    principal: Principal,
    facility_id: uuid.UUID,
    tie_id: uuid.UUID,
) -> None:
    async with session.begin():
        row = await repository.tie(session, kind.model, facility_id, tie_id)
        if row is None:
            raise NotFound(
                f"No {kind.entity.replace('-', ' ')} {tie_id} for facility {facility_id}."
            )
        municipality = await organisation_of(
            session, row.municipality_id, "municipalityId", MUNICIPALITIES
        )
        require_staff(principal, municipality, MUNICIPALITIES)
        # Once the facility moved on, the tie is part of what was decided on (a co-funding
        # total, the pilot's participants): it stays as it was.
        require_open(kind, await facility_of(session, facility_id))
        out = kind.out(row, municipality)
        await repository.delete_tie(session, row)
        await record_change(
            session,
            Actor.of(principal),
            entity=kind.entity,
            entity_id=tie_id,
            action=kind.ended,
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=kind.path(facility_id, tie_id),
        )


async def page(
    kind: TieKind[Tie, Out],
    session: AsyncSession,
    facility_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[Out], int]:
    """The facility's ties of this kind, by the municipality's name."""
    await facility_of(session, facility_id)
    rows, total = await repository.ties_page(
        session, kind.model, facility_id, params.offset, params.page_size
    )
    return [kind.out(row, org) for row, org in rows], total
