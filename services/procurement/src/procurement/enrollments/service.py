"""Enrollment rules: who may enroll, the mandate, the window, start dates, exactly-once."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from fastapi import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import Clock
from servicekit.errors import BadRequest, Conflict
from servicekit.http import make_etag
from servicekit.idempotency import IdempotencyKey, record, replay, replay_before
from servicekit.responses import json_response

from .. import history
from ..db import idempotency_keys
from ..registry_client import RegistryClient
from ..tenders.models import Tender
from ..tenders.repository import TenderRepository
from .models import Enrollment, EnrollmentLot
from .reads import output
from .registry_details import (
    apply_municipality,
    municipality_of,
    start_dates,
)
from .repository import EnrollmentRepository, new_lines, new_mandate
from .schemas import (
    EnrollmentChange,
    EnrollmentIn,
    EnrollmentOut,
    enrollment_out,
)
from .terms import (
    ENROLLED,
    MERGED,
    WITHDRAWN,
    already_enrolled,
    check_lots,
    check_mandate,
    check_start_dates,
    check_window,
    enrollment_etag,
    event_data,
    organisation_ended,
    require_owner,
    require_signer,
)


class _Enrolled(Exception):
    """The municipality is already enrolled (found inside the write transaction)."""


async def record_change(
    session: AsyncSession,
    enrollment: Enrollment,
    action: str,
    actor: Actor,
    now: datetime,
    lines: list[EnrollmentLot],
    *,
    event: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    """A change of the enrollment into the tender's history and onto the change feed as
    ``enrollment.<action>`` (the enrollment with ``lines``, and ``event``'s members);
    ``details``: the history's further columns (:func:`procurement.history.record`)."""
    await history.record(
        session,
        tender_id=enrollment.tender_id,
        entity="enrollment",
        entity_id=enrollment.id,
        action=action,
        actor=actor,
        at=now,
        event_type=f"enrollment.{action}",
        event_data={**event_data(enrollment, lines), **(event or {})},
        **details,
    )


async def enroll(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    tender_id: uuid.UUID,
    body: EnrollmentIn,
    clock: Clock,
    key: IdempotencyKey | None = None,
) -> Response:
    """Enroll the caller's municipality; the 201 response, or the stored one for a
    repeated Idempotency-Key. The enrollment, its lots, mandate, history, event and the
    key are written in one transaction (one commit)."""
    oin = require_signer(principal)
    if key is not None:
        stored = await replay_before(session.bind, idempotency_keys, key)  # type: ignore[arg-type]
        if stored is not None:
            return stored
    tender, lots = await EnrollmentRepository(session).tender_terms(tender_id)
    check_window(tender, clock())
    check_lots(body.lots, lots)
    check_start_dates(body.lots, tender, clock())
    check_mandate(body.mandate, tender, clock())
    # Registry calls happen outside any transaction (no locks held while waiting).
    needs_registry = any(line.desired_start_date is None for line in body.lots)
    municipality, _reached = await municipality_of(registry, oin, needs_registry)
    if municipality.ended_on:
        raise organisation_ended(f"on {municipality.ended_on} in a merger")
    dates = await start_dates(registry, tender, municipality, body.lots)

    actor = Actor.of(principal)
    repo = EnrollmentRepository(session)
    try:
        async with session.begin():
            now = clock()
            tender = await repo.locked_tender(tender_id)
            check_window(tender, now)
            # The registry may be down (details from cache or none): a merger applied
            # here still says the municipality ended.
            merged_on = await repo.merged_on(oin)
            if merged_on is not None:
                raise organisation_ended(f"in the merger effective {merged_on}")
            enrollment = Enrollment(
                tender_id=tender_id,
                municipality_oin=oin,
                status=ENROLLED,
                created_by=principal.subject,
                created_at=now,
                updated_at=now,
            )
            apply_municipality(enrollment, municipality)
            action = "enrolled"
            if not await repo.insert_new(enrollment):
                # Locked: a concurrent re-enrollment waits here, then finds it enrolled.
                existing = await repo.find(tender_id, oin, for_update=True)
                if existing is None or existing.status == ENROLLED:
                    raise _Enrolled
                if existing.status == MERGED:  # lives on in the successor's enrollment
                    raise organisation_ended()
                # Re-enrolling after a withdrawal reuses the one row per municipality.
                enrollment = existing
                enrollment.status = ENROLLED
                enrollment.withdrawn_at = None
                enrollment.version += 1
                enrollment.updated_at = now
                apply_municipality(enrollment, municipality)
                await repo.drop_lines(enrollment)
                action = "re-enrolled"
            lines = new_lines(enrollment, body.lots, dates)
            mandate = new_mandate(
                enrollment, tender, principal, body.mandate, [x.lot_id for x in body.lots], now
            )
            await repo.insert_lines_and_mandate(lines, mandate)
            out = enrollment_out(enrollment, lines, mandate)
            response = json_response(
                out,
                201,
                etag=make_etag(out.id, out.version),
                location=f"/v1/tenders/{tender_id}/enrollments/{out.id}",
            )
            if key is not None:
                await record(session, idempotency_keys, key, response)
            # Last: the event outbox serialises its writers until commit.
            data = {"mandateId": str(mandate.id)}
            await record_change(
                session, enrollment, action, actor, now, lines, to_status=ENROLLED, data=data
            )
    except (_Enrolled, IntegrityError):
        # A concurrent submission for the same municipality won the race (our
        # transaction rolled back completely): its stored answer if it was this very
        # request (same Idempotency-Key), else 409 naming the enrollment.
        async with session.begin():
            stored = await replay(session, idempotency_keys, key) if key is not None else None
            existing = None if stored is not None else await repo.find(tender_id, oin)
        if stored is not None:
            return stored
        if existing is None:
            raise
        raise already_enrolled(existing) from None
    return response


async def change(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    body: EnrollmentChange,
    if_match: Any,
    *,
    registry: RegistryClient,
    clock: Clock,
) -> tuple[EnrollmentOut, str]:
    require_signer(principal)
    repo = EnrollmentRepository(session)
    async with session.begin():
        tender, lots = await TenderRepository(session).with_lots(tender_id)
        enrollment = await repo.get_in(tender_id, enrollment_id)
        require_owner(principal, enrollment)
        if_match(enrollment_etag(enrollment))
        check_window(tender, clock())
        check_lots(body.lots, lots)
        check_start_dates(body.lots, tender, clock())
        mandate_now = await repo.current_mandate(enrollment.id)
    if enrollment.status != ENROLLED:
        raise Conflict("A withdrawn enrollment cannot be changed; enroll again.")
    if body.mandate is None:
        covered = set(json.loads(mandate_now.scope).get("lotIds", []))
        if not {str(x.lot_id) for x in body.lots} <= covered:
            raise BadRequest(
                "The current mandate does not cover all these lots; include a new mandate.",
                invalid_params=[{"name": "mandate", "reason": "required for lots beyond it"}],
            )
    else:
        check_mandate(body.mandate, tender, clock())
    needs_registry = any(line.desired_start_date is None for line in body.lots)
    municipality, _ = await municipality_of(registry, enrollment.municipality_oin, needs_registry)
    dates = await start_dates(registry, tender, municipality, body.lots)

    async with session.begin():
        now = clock()
        # Checked again inside the transaction: another change may have won meanwhile.
        tender, enrollment = await _writable(repo, tender_id, enrollment_id, if_match, now)
        if enrollment.status != ENROLLED:
            raise Conflict("A withdrawn enrollment cannot be changed; enroll again.")
        lines = new_lines(enrollment, body.lots, dates)
        await repo.replace_lines(enrollment, lines)
        apply_municipality(enrollment, municipality)
        enrollment.version += 1
        enrollment.updated_at = now
        data: dict[str, Any] = {}
        if body.mandate is not None:
            mandate = new_mandate(
                enrollment, tender, principal, body.mandate, [x.lot_id for x in body.lots], now
            )
            session.add(mandate)
            data["mandateId"] = str(mandate.id)
        await record_change(
            session, enrollment, "changed", Actor.of(principal), now, lines, data=data
        )
    return await output(session, enrollment)


async def _writable(
    repo: EnrollmentRepository,
    tender_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    if_match: Any,
    now: datetime,
    owner: Principal | None = None,
) -> tuple[Tender, Enrollment]:
    """The tender, locked against an early closure, and the enrollment, when the If-Match
    holds and the window is open (``owner``: and the enrollment is that caller's)."""
    tender = await repo.locked_tender(tender_id)
    enrollment = await repo.get_in(tender_id, enrollment_id)
    if owner is not None:
        require_owner(owner, enrollment)
    if_match(enrollment_etag(enrollment))
    check_window(tender, now)
    return tender, enrollment


async def withdraw(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    reason: str | None,
    if_match: Any,
    clock: Clock,
) -> tuple[EnrollmentOut, str]:
    require_signer(principal)
    repo = EnrollmentRepository(session)
    async with session.begin():
        now = clock()
        _, enrollment = await _writable(
            repo, tender_id, enrollment_id, if_match, now, owner=principal
        )
        if enrollment.status != ENROLLED:
            raise Conflict(f"The enrollment is already {enrollment.status}.")
        enrollment.status = WITHDRAWN
        enrollment.withdrawn_at = now
        enrollment.version += 1
        enrollment.updated_at = now
        await record_change(
            session,
            enrollment,
            "withdrawn",
            Actor.of(principal),
            now,
            [],
            from_status=ENROLLED,
            to_status=WITHDRAWN,
            reason=reason,
        )
    return await output(session, enrollment)
