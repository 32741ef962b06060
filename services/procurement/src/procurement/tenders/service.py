"""Tender rules: creation against the registry, lots, and the forward-only lifecycle
(what may be read, and by whom: reads.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import Clock
from servicekit.errors import BadRequest, Conflict, Forbidden
from servicekit.http import IfMatch

from .. import history
from ..registry_client import RegistryClient
from .models import Lot, Tender
from .repository import TenderRepository
from .schemas import (
    LotIn,
    LotOut,
    TenderIn,
    TenderOut,
    TenderPatch,
    lot_out,
    tender_out,
)
from .terms import (
    CANCELLED,
    DRAFT,
    FINAL,
    LEAD_PARTY_TYPES,
    TRANSITIONS,
    check_publishable,
    check_terms,
    check_window,
    effective_status,
    lot_amount,
    tender_etag,
)

SYSTEM_ACTOR = Actor.system("enrollment-window")


def snapshot(tender: Tender, now: datetime) -> dict[str, Any]:
    """Event payload of a tender change (no personal data)."""
    return {
        "tenderId": str(tender.id),
        "status": effective_status(tender, now),
        "title": tender.title,
        "facilityId": str(tender.facility_id),
        "leadPartyId": str(tender.lead_party_id),
        "version": tender.version,
    }


def require_lead_party(principal: Principal, tender: Tender) -> None:
    if not principal.org_id or principal.org_id != tender.lead_party_oin:
        raise Forbidden(
            "Only staff of the tender's lead party may manage it.",
            extra={"leadPartyOin": tender.lead_party_oin},
        )


STATUS_CHANGED = "tender.status-changed"


async def _record(
    session: AsyncSession,
    tender: Tender,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    at: datetime | None = None,
    entity: tuple[str, uuid.UUID] | None = None,
    event_type: str | None = None,
    event: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    """A change of the tender (or of one of its lots: ``entity``) into its history and onto
    the change feed as ``tender.<action>`` (or ``event_type``): the tender as it is
    ``now``, with ``event``'s members. ``at``: when it happened, if not now; ``details``:
    the history's further columns (:func:`procurement.history.record`)."""
    kind, entity_id = entity or ("tender", tender.id)
    await history.record(
        session,
        tender_id=tender.id,
        entity=kind,
        entity_id=entity_id,
        action=action,
        actor=actor,
        at=at or now,
        event_type=event_type or f"tender.{action}",
        event_data={**snapshot(tender, now), **(event or {})},
        **details,
    )


async def create_tender(
    session: AsyncSession,
    principal: Principal,
    body: TenderIn,
    *,
    registry: RegistryClient,
    clock: Clock,
) -> tuple[TenderOut, str]:
    now = clock()
    if not principal.org_id:
        raise Forbidden("Only staff of a lead party (cooperation or operator) may create tenders.")
    # The registry is read before the transaction: no locks are held while waiting on it.
    facility = await registry.facility(str(body.facility_id))
    if facility is None:
        raise BadRequest(
            "The facility does not exist in the registry.",
            invalid_params=[{"name": "facilityId", "reason": "unknown facility"}],
        )
    if facility.get("stage") == "retired":
        raise BadRequest(
            "A retired facility cannot be procured.",
            invalid_params=[{"name": "facilityId", "reason": "facility is retired"}],
        )
    lead = await registry.organisation(str(body.lead_party_id))
    if lead is None:
        raise BadRequest(
            "The lead party does not exist in the registry.",
            invalid_params=[{"name": "leadPartyId", "reason": "unknown organisation"}],
        )
    if lead.get("type") not in LEAD_PARTY_TYPES or not lead.get("oin"):
        raise BadRequest(
            "The lead party must be a cooperation or the platform operator, with an OIN.",
            invalid_params=[{"name": "leadPartyId", "reason": "not a central purchasing body"}],
        )
    if lead["oin"] != principal.org_id:
        raise Forbidden("Only staff of the lead party may create its tenders.")
    check_window(body.enrollment_opens_at, body.enrollment_closes_at)
    check_terms(
        body.estimated_value.amount,
        [(f"lots[{i}].estimatedValue", lot_amount(lot)) for i, lot in enumerate(body.lots)],
        body.planned_start_date,
        body.contract_duration_months,
        body.enrollment_closes_at,
        now,
    )

    tender = Tender(
        **body.model_dump(exclude={"estimated_value", "lots"}),
        facility_name=str(facility.get("name") or facility.get("slug") or body.facility_id),
        lead_party_oin=str(lead["oin"]),
        lead_party_name=str(lead.get("name") or lead["oin"]),
        estimated_value=body.estimated_value.amount,
        currency=body.estimated_value.currency,
        status=DRAFT,
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    actor = Actor.of(principal)
    repo = TenderRepository(session)
    async with session.begin():
        await repo.add(tender)
        lots = [_new_lot(tender, number, lot, now) for number, lot in enumerate(body.lots, 1)]
        session.add_all(lots)
        await _record(
            session, tender, "created", actor, now, to_status=DRAFT, data={"lots": len(lots)}
        )
    return tender_out(tender, lots, now), tender_etag(tender, now)


def _new_lot(tender: Tender, number: int, body: LotIn, now: datetime) -> Lot:
    return Lot(
        tender_id=tender.id,
        number=number,
        title=body.title,
        unit=body.unit,
        description=body.description,
        estimated_value=body.estimated_value.amount if body.estimated_value else None,
        created_at=now,
    )


def _require_draft(tender: Tender, now: datetime, what: str) -> None:
    status = effective_status(tender, now)
    if status != DRAFT:
        raise Conflict(
            f"{what} is only possible while the tender is a draft.", extra={"tenderStatus": status}
        )


async def patch_tender(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    patch: TenderPatch,
    if_match: IfMatch,
    *,
    clock: Clock,
) -> tuple[TenderOut, str]:
    now = clock()
    repo = TenderRepository(session)
    async with session.begin():
        tender = await repo.get(tender_id, for_update=True)
        require_lead_party(principal, tender)
        if_match(tender_etag(tender, now))
        _require_draft(tender, now, "Changing a tender")
        changes = patch.model_dump(exclude_unset=True)
        for name in changes:
            value = getattr(patch, name)
            if value is None:
                raise BadRequest(
                    f"{name} cannot be removed.", invalid_params=[{"name": name, "reason": "null"}]
                )
            if name == "estimated_value":
                tender.estimated_value = value.amount
            else:
                setattr(tender, name, value)
        check_window(tender.enrollment_opens_at, tender.enrollment_closes_at)
        lots = await repo.lots(tender.id)
        check_terms(
            tender.estimated_value,
            [(None, lot.estimated_value) for lot in lots],
            tender.planned_start_date,
            tender.contract_duration_months,
            tender.enrollment_closes_at,
            now,
            # A draft left alone may age; only the dates being changed must be ahead.
            check_past=bool({"planned_start_date", "enrollment_closes_at"} & set(changes)),
            total_name="estimatedValue",
        )
        tender.version += 1
        tender.updated_at = now
        await _record(
            session, tender, "changed", Actor.of(principal), now, data={"fields": sorted(changes)}
        )
    return tender_out(tender, lots, now), tender_etag(tender, now)


async def add_lot(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    body: LotIn,
    *,
    clock: Clock,
) -> LotOut:
    now = clock()
    repo = TenderRepository(session)
    async with session.begin():
        tender = await repo.get(tender_id, for_update=True)
        require_lead_party(principal, tender)
        _require_draft(tender, now, "Adding a lot")
        number = await repo.last_lot_number(tender.id)
        lots = await repo.lots(tender.id)
        check_terms(
            tender.estimated_value,
            [
                *((None, x.estimated_value) for x in lots),
                ("estimatedValue", lot_amount(body)),
            ],
            tender.planned_start_date,
            tender.contract_duration_months,
            tender.enrollment_closes_at,
            now,
            check_past=False,
            total_name="estimatedValue",
        )
        lot = _new_lot(tender, number + 1, body, now)
        tender.version += 1
        tender.updated_at = now
        await repo.add(lot)
        await _record(
            session,
            tender,
            "lot-added",
            Actor.of(principal),
            now,
            entity=("lot", lot.id),
            event={"lotId": str(lot.id), "lotNumber": lot.number},
        )
    return lot_out(lot)


async def transition(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    name: str,
    reason: str | None,
    if_match: IfMatch,
    now: datetime,
) -> tuple[TenderOut, str]:
    """Move the tender forward (or cancel it), recording actor, time and reason."""
    actor = Actor.of(principal)
    repo = TenderRepository(session)
    async with session.begin():
        tender = await repo.get(tender_id, for_update=True)
        require_lead_party(principal, tender)
        if_match(tender_etag(tender, now))
        current = effective_status(tender, now)
        lots = await repo.lots(tender.id)
        if name == "cancellation":
            if current in FINAL:
                raise Conflict(
                    f"A {current} tender cannot be cancelled.", extra={"tenderStatus": current}
                )
            target = CANCELLED
            tender.cancellation_reason = reason
        else:
            required, target = TRANSITIONS[name]
            if current != required:
                raise Conflict(
                    f"The tender is {current}; {name} needs it to be {required}.",
                    extra={"tenderStatus": current, "requiredStatus": required},
                )
            if name == "publication":
                check_publishable(tender, lots, now)
            if name == "enrollment-closure":
                if tender.enrollment_opens_at > now:
                    # Closing then would end the window before it began: no one could
                    # have enrolled, which is a cancellation.
                    raise Conflict(
                        "The enrollment window has not opened yet; cancel the tender instead.",
                        slug="enrollment-window-not-open",
                        extra={"opensAt": tender.enrollment_opens_at.isoformat()},
                    )
                # Closing early moves the window's end, so enrollments see one closing time.
                tender.enrollment_closes_at = now
        if current != tender.status:
            # The window closed by time; record that moment before the explicit move.
            await _record(
                session,
                tender,
                "enrollment-closed-by-time",
                SYSTEM_ACTOR,
                now,
                at=tender.enrollment_closes_at,
                event_type=STATUS_CHANGED,
                event={"status": current},
                from_status=tender.status,
                to_status=current,
            )
        previous = current
        tender.status = target
        tender.version += 1
        tender.updated_at = now
        await _record(
            session,
            tender,
            name,
            actor,
            now,
            event_type=STATUS_CHANGED,
            event={"previousStatus": previous, "reason": reason},
            from_status=previous,
            to_status=target,
            reason=reason,
        )
    return tender_out(tender, lots, now), tender_etag(tender, now)
