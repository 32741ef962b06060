"""A municipal merger, as the registry recorded it, applied to enrollments.

The registry owns the merger (which municipalities continue as which); procurement reads
it over HTTP and moves the predecessors' current enrollments to the successor, once per
merger: an enrollment in a tender where the successor has none becomes the successor's;
one where it has an enrollment already is folded into that one (volumes added per lot,
the earlier desired start date; a withdrawn one takes only the predecessor's lines and
mandate) and ends with status ``merged``. Each change has its
history row and event; mandates stay as they were signed. A preview (``dry_run``) runs
the same transaction and rolls it back.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.db import transaction
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound

from ..enrollments.models import Enrollment, EnrollmentLot
from ..enrollments.registry_details import Municipality, apply_municipality
from ..enrollments.service import record_change
from ..enrollments.terms import ENROLLED, MERGED
from ..registry_client import RegistryClient
from .models import AppliedMerger
from .repository import MergerRepository
from .schemas import AppliedMergerOut


def require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise Forbidden("Only the platform operator applies municipal mergers.")


def to_out(row: AppliedMerger) -> AppliedMergerOut:
    moved = json.loads(row.moved)
    return AppliedMergerOut.from_row(
        row,
        id=row.merger_id,
        dry_run=False,
        predecessor_oins=json.loads(row.predecessor_oins),
        transferred_enrollment_ids=moved["transferred"],
        combined_enrollment_ids=moved["combined"],
    )


async def get(session: AsyncSession, merger_id: uuid.UUID) -> AppliedMergerOut:
    async with session.begin():
        row = await MergerRepository(session).find(merger_id)
    if row is None:
        raise NotFound(f"Merger {merger_id} has not been applied here.")
    return to_out(row)


async def _registry_merger(
    registry: RegistryClient, merger_id: uuid.UUID
) -> tuple[list[Municipality], Municipality, date]:
    """The merger's municipalities (with their OINs) and date, from the registry."""
    merger = await registry.merger(str(merger_id))
    if merger is None:
        raise BadRequest(
            "The registry has no such merger.",
            invalid_params=[{"name": "mergerId", "reason": "unknown merger in the registry"}],
        )
    registry.clear_cache()  # the predecessors' records changed (ended, successor)
    parts = []
    for org_id in [*merger["predecessorIds"], merger["successorId"]]:
        data = await registry.organisation(str(org_id))
        parts.append(Municipality.from_registry(str((data or {}).get("oin") or ""), data))
    *predecessors, successor = parts
    # Without an OIN a municipality never enrolled (nor can the successor hold enrollments).
    return (
        [p for p in predecessors if p.oin],
        successor,
        date.fromisoformat(merger["effectiveDate"]),
    )


async def apply(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    merger_id: uuid.UUID,
    now: datetime,
    *,
    dry_run: bool,
) -> tuple[AppliedMergerOut, bool]:
    """The merger applied (or previewed); the flag says whether this call applied it
    (False: it was applied before, and this is that record)."""
    require_operator(principal)
    repo = MergerRepository(session)
    async with session.begin():
        done = await repo.find(merger_id)
    if done is not None:
        return to_out(done), False
    predecessors, successor, effective = await _registry_merger(registry, merger_id)
    actor = None if dry_run else Actor.of(principal)
    async with transaction(session, dry_run=dry_run):
        if not dry_run:
            # An apply running at the same time: wait for it, then answer its record.
            await repo.lock(merger_id)
            done = await repo.find(merger_id)
            if done is not None:
                return to_out(done), False
        transferred: list[uuid.UUID] = []
        combined: list[uuid.UUID] = []
        for predecessor in predecessors:
            for enrollment in await repo.enrolled(predecessor.oin):
                if not successor.oin:
                    raise Conflict(
                        "The successor has no OIN in the registry, so it cannot hold "
                        "the enrollments; register its OIN first.",
                        slug="successor-without-oin",
                    )
                own = await repo.enrollment_of(enrollment.tender_id, successor.oin)
                if own is None:
                    await _transfer(repo, actor, enrollment, successor, now)
                    transferred.append(enrollment.id)
                else:
                    await _fold(repo, actor, enrollment, own, now)
                    combined.append(enrollment.id)
        result = AppliedMergerOut(
            id=merger_id,
            dry_run=dry_run,
            successor_oin=successor.oin or None,
            predecessor_oins=[p.oin for p in predecessors],
            effective_date=effective,
            transferred_enrollment_ids=transferred,
            combined_enrollment_ids=combined,
            applied_by=None if dry_run else principal.subject,
            applied_at=None if dry_run else now,
        )
        if dry_run:
            return result, True
        session.add(
            AppliedMerger(
                merger_id=merger_id,
                successor_oin=successor.oin or None,
                predecessor_oins=json.dumps(result.predecessor_oins),
                effective_date=effective,
                moved=json.dumps(
                    {
                        "transferred": [str(i) for i in transferred],
                        "combined": [str(i) for i in combined],
                    }
                ),
                applied_by=principal.subject,
                applied_at=now,
            )
        )
    return result, True


async def _event(
    repo: MergerRepository,
    actor: Actor | None,
    enrollment: Enrollment,
    action: str,
    now: datetime,
    **data: Any,
) -> None:
    if actor is None:  # a preview
        return
    lines = await repo.lines(enrollment.id)
    await record_change(
        repo.session,
        enrollment,
        action,
        actor,
        now,
        lines,
        to_status=enrollment.status,
        event=data,
        data=data,
    )


async def _transfer(
    repo: MergerRepository,
    actor: Actor | None,
    enrollment: Enrollment,
    successor: Municipality,
    now: datetime,
) -> None:
    previous = enrollment.municipality_oin
    enrollment.municipality_oin = successor.oin
    apply_municipality(enrollment, successor)
    enrollment.version += 1
    enrollment.updated_at = now
    await repo.session.flush()
    await _event(repo, actor, enrollment, "transferred", now, previousMunicipalityOin=previous)


async def _fold(
    repo: MergerRepository,
    actor: Actor | None,
    enrollment: Enrollment,
    into: Enrollment,
    now: datetime,
) -> None:
    revived = into.status != ENROLLED
    if revived:
        # The successor had withdrawn: its old lines and mandate no longer stand, so it
        # takes over only the predecessor's lines and mandate, as in a transfer.
        await repo.drop_lines(into.id)
        theirs: dict[uuid.UUID, EnrollmentLot] = {}
        await repo.copy_current_mandate(enrollment, into, now)
        into.status = ENROLLED
        into.withdrawn_at = None
    else:
        theirs = {line.lot_id: line for line in await repo.lines(into.id)}
    for line in await repo.lines(enrollment.id):
        kept = theirs.get(line.lot_id)
        if kept is None:
            line.enrollment_id = into.id
            continue
        kept.expected_volume += line.expected_volume
        if line.desired_start_date < kept.desired_start_date:
            kept.desired_start_date = line.desired_start_date
            kept.start_date_source = line.start_date_source
            kept.start_date_explanation = line.start_date_explanation
    into.version += 1
    into.updated_at = now
    enrollment.status = MERGED
    enrollment.version += 1
    enrollment.updated_at = now
    await repo.session.flush()
    await _event(repo, actor, enrollment, "combined", now, combinedIntoId=str(into.id))
    await _event(repo, actor, into, "updated", now, combinedFromId=str(enrollment.id))
