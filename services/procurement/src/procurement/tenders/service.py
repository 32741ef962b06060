"""Tender rules: creation against the registry, lots, and the forward-only lifecycle."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound
from servicekit.http import make_etag

from .. import history
from ..registry_client import RegistryClient
from .models import Lot, Tender
from .schemas import LotIn, LotOut, MoneyOut, PartyOut, Reference, TenderIn, TenderOut, TenderPatch

DRAFT = "draft"
OPEN = "open-for-enrollment"
CLOSED = "enrollment-closed"
TENDERING = "tendering"
AWARDED = "awarded"
CONTRACTED = "contracted"
CANCELLED = "cancelled"
FINAL = (CONTRACTED, CANCELLED)
LEAD_PARTY_TYPES = ("cooperation", "operator")

# Transition name (the sub-resource) -> (required effective status, new status).
TRANSITIONS: dict[str, tuple[str, str]] = {
    "publication": (DRAFT, OPEN),
    "enrollment-closure": (OPEN, CLOSED),
    "tendering": (CLOSED, TENDERING),
    "award": (TENDERING, AWARDED),
    "contracting": (AWARDED, CONTRACTED),
}
SYSTEM_ACTOR = Actor(subject="system:enrollment-window", org_id=None, client_id=None, trace=None)


def effective_status(tender: Tender, now: datetime) -> str:
    """The window closes by time: no job has to run for an open tender to close."""
    if tender.status == OPEN and now >= tender.enrollment_closes_at:
        return CLOSED
    return tender.status


def tender_etag(tender: Tender, now: datetime) -> str:
    return make_etag(tender.id, tender.version, effective_status(tender, now))


def lot_out(lot: Lot) -> LotOut:
    return LotOut(
        id=lot.id,
        tender_id=lot.tender_id,
        number=lot.number,
        title=lot.title,
        unit=lot.unit,
        description=lot.description,
        estimated_value=MoneyOut(amount=lot.estimated_value)
        if lot.estimated_value is not None
        else None,
    )


def tender_out(tender: Tender, lots: list[Lot], now: datetime) -> TenderOut:
    return TenderOut(
        id=tender.id,
        facility=Reference(id=tender.facility_id, name=tender.facility_name),
        lead_party=PartyOut(
            id=tender.lead_party_id, name=tender.lead_party_name, oin=tender.lead_party_oin
        ),
        title=tender.title,
        description=tender.description,
        procedure=tender.procedure,
        estimated_value=MoneyOut(amount=tender.estimated_value, currency=tender.currency),
        enrollment_opens_at=tender.enrollment_opens_at,
        enrollment_closes_at=tender.enrollment_closes_at,
        planned_start_date=tender.planned_start_date,
        contract_duration_months=tender.contract_duration_months,
        status=effective_status(tender, now),
        cancellation_reason=tender.cancellation_reason,
        lots=[lot_out(lot) for lot in sorted(lots, key=lambda lot: lot.number)],
        version=tender.version,
        created_at=tender.created_at,
        updated_at=tender.updated_at,
    )


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


async def load(session: AsyncSession, tender_id: uuid.UUID, *, lock: bool = False) -> Tender:
    query = select(Tender).where(Tender.id == tender_id)  # type: ignore[arg-type]
    if lock:
        query = query.with_for_update()
    tender = (await session.execute(query)).scalar_one_or_none()
    if tender is None:
        raise NotFound(f"Tender {tender_id} does not exist.")
    return tender


async def load_lots(session: AsyncSession, tender_id: uuid.UUID) -> list[Lot]:
    query = select(Lot).where(Lot.tender_id == tender_id).order_by(Lot.number)  # type: ignore[arg-type]
    return list((await session.execute(query)).scalars())


async def create_tender(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    body: TenderIn,
    now: datetime,
) -> tuple[Tender, list[Lot]]:
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
    check_terms(
        body.estimated_value.amount,
        [(f"lots[{i}].estimatedValue", _amount(lot)) for i, lot in enumerate(body.lots)],
        body.planned_start_date,
        body.enrollment_closes_at,
        now,
    )

    tender = Tender(
        facility_id=body.facility_id,
        facility_name=str(facility.get("name") or facility.get("slug") or body.facility_id),
        lead_party_id=body.lead_party_id,
        lead_party_oin=str(lead["oin"]),
        lead_party_name=str(lead.get("name") or lead["oin"]),
        title=body.title,
        description=body.description,
        procedure=body.procedure,
        estimated_value=body.estimated_value.amount,
        currency=body.estimated_value.currency,
        enrollment_opens_at=body.enrollment_opens_at,
        enrollment_closes_at=body.enrollment_closes_at,
        planned_start_date=body.planned_start_date,
        contract_duration_months=body.contract_duration_months,
        status=DRAFT,
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    actor = Actor.of(principal)
    async with session.begin():
        session.add(tender)
        await session.flush()
        lots = [_new_lot(tender, number, lot, now) for number, lot in enumerate(body.lots, 1)]
        session.add_all(lots)
        await history.record(
            session,
            tender_id=tender.id,
            entity="tender",
            entity_id=tender.id,
            action="created",
            to_status=DRAFT,
            actor=actor,
            at=now,
            event_type="tender.created",
            event_data=snapshot(tender, now),
            data={"lots": len(lots)},
        )
    return tender, lots


def _amount(lot: LotIn) -> Decimal | None:
    return lot.estimated_value.amount if lot.estimated_value is not None else None


def check_terms(
    value: Decimal,
    lot_values: list[tuple[str | None, Decimal | None]],
    planned_start: date,
    closes_at: datetime,
    now: datetime,
    *,
    check_past: bool = True,
    total_name: str = "lots",
) -> None:
    """Amounts and dates that contradict each other are refused (400 with every reason):
    a lot worth more than the tender, lots together worth more than the tender, a joint
    contract that starts in the past or before municipalities can have enrolled.
    ``lot_values`` pairs each lot's value with the request field that carries it (None
    for lots already stored: counted, not blamed); a total over the tender's value is
    blamed on ``total_name``."""
    problems = [
        {"name": name, "reason": "exceeds the tender's estimatedValue"}
        for name, amount in lot_values
        if name is not None and amount is not None and amount > value
    ]
    total = sum((amount for _name, amount in lot_values if amount is not None), Decimal(0))
    if not problems and total > value:
        problems.append(
            {
                "name": total_name,
                "reason": f"lot values add up to {total}, over the tender's {value}",
            }
        )
    if check_past and planned_start < now.date():
        problems.append({"name": "plannedStartDate", "reason": "lies in the past"})
    elif planned_start < closes_at.date():
        problems.append(
            {"name": "plannedStartDate", "reason": "before the enrollment window closes"}
        )
    if problems:
        raise BadRequest(
            "The tender's amounts or dates contradict each other.", invalid_params=problems
        )


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


async def list_tenders(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    status: str | None,
    facility_id: uuid.UUID | None,
    now: datetime,
) -> tuple[list[tuple[Tender, list[Lot]]], int]:
    query = select(Tender)
    if facility_id:
        query = query.where(Tender.facility_id == facility_id)  # type: ignore[arg-type]
    if status == CLOSED:
        # Effective status: stored as open but past its closing time also counts.
        query = query.where(
            (col(Tender.status) == CLOSED)
            | ((col(Tender.status) == OPEN) & (col(Tender.enrollment_closes_at) <= now))
        )
    elif status == OPEN:
        query = query.where(col(Tender.status) == OPEN, col(Tender.enrollment_closes_at) > now)
    elif status:
        query = query.where(Tender.status == status)  # type: ignore[arg-type]
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = list(
        (
            await session.execute(
                query.order_by(col(Tender.created_at).desc(), col(Tender.id))
                .offset(offset)
                .limit(limit)
            )
        ).scalars()
    )
    lots_by_tender: dict[uuid.UUID, list[Lot]] = {t.id: [] for t in rows}
    if rows:
        lot_rows = await session.execute(
            select(Lot).where(Lot.tender_id.in_(list(lots_by_tender)))  # type: ignore[attr-defined]
        )
        for lot in lot_rows.scalars():
            lots_by_tender[lot.tender_id].append(lot)
    return [(t, lots_by_tender[t.id]) for t in rows], int(total)


def _require_draft(tender: Tender, now: datetime, what: str) -> None:
    status = effective_status(tender, now)
    if status != DRAFT:
        raise Conflict(
            f"{what} is only possible while the tender is a draft.", extra={"status": status}
        )


async def patch_tender(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    patch: TenderPatch,
    if_match: Any,
    now: datetime,
) -> tuple[Tender, list[Lot]]:
    async with session.begin():
        tender = await load(session, tender_id, lock=True)
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
        if tender.enrollment_closes_at <= tender.enrollment_opens_at:
            raise BadRequest(
                "The enrollment window must close after it opens.",
                invalid_params=[{"name": "enrollmentClosesAt", "reason": "not after opensAt"}],
            )
        lots = await load_lots(session, tender.id)
        check_terms(
            tender.estimated_value,
            [(None, lot.estimated_value) for lot in lots],
            tender.planned_start_date,
            tender.enrollment_closes_at,
            now,
            # A draft left alone may age; only the dates being changed must be ahead.
            check_past="planned_start_date" in changes,
            total_name="estimatedValue",
        )
        tender.version += 1
        tender.updated_at = now
        await history.record(
            session,
            tender_id=tender.id,
            entity="tender",
            entity_id=tender.id,
            action="changed",
            actor=Actor.of(principal),
            at=now,
            event_type="tender.changed",
            event_data=snapshot(tender, now),
            data={"fields": sorted(changes)},
        )
    return tender, lots


async def add_lot(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    body: LotIn,
    now: datetime,
) -> Lot:
    async with session.begin():
        tender = await load(session, tender_id, lock=True)
        require_lead_party(principal, tender)
        _require_draft(tender, now, "Adding a lot")
        number = (
            await session.execute(
                select(func.coalesce(func.max(Lot.number), 0)).where(Lot.tender_id == tender.id)  # type: ignore[arg-type]
            )
        ).scalar_one()
        lots = await load_lots(session, tender.id)
        check_terms(
            tender.estimated_value,
            [
                *((None, x.estimated_value) for x in lots),
                ("estimatedValue", _amount(body)),
            ],
            tender.planned_start_date,
            tender.enrollment_closes_at,
            now,
            check_past=False,
            total_name="estimatedValue",
        )
        lot = _new_lot(tender, int(number) + 1, body, now)
        session.add(lot)
        tender.version += 1
        tender.updated_at = now
        await session.flush()
        await history.record(
            session,
            tender_id=tender.id,
            entity="lot",
            entity_id=lot.id,
            action="lot-added",
            actor=Actor.of(principal),
            at=now,
            event_type="tender.lot-added",
            event_data={**snapshot(tender, now), "lotId": str(lot.id), "lotNumber": lot.number},
        )
    return lot


async def get_lot(session: AsyncSession, tender_id: uuid.UUID, lot_id: uuid.UUID) -> Lot:
    lot = (
        await session.execute(
            select(Lot).where(Lot.id == lot_id, Lot.tender_id == tender_id)  # type: ignore[arg-type]
        )
    ).scalar_one_or_none()
    if lot is None:
        raise NotFound(f"Lot {lot_id} does not exist in tender {tender_id}.")
    return lot


async def transition(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    name: str,
    reason: str | None,
    if_match: Any,
    now: datetime,
) -> tuple[Tender, list[Lot]]:
    """Move the tender forward (or cancel it), recording actor, time and reason."""
    actor = Actor.of(principal)
    async with session.begin():
        tender = await load(session, tender_id, lock=True)
        require_lead_party(principal, tender)
        if_match(tender_etag(tender, now))
        current = effective_status(tender, now)
        lots = await load_lots(session, tender.id)
        if name == "cancellation":
            if current in FINAL:
                raise Conflict(
                    f"A {current} tender cannot be cancelled.", extra={"status": current}
                )
            target = CANCELLED
            tender.cancellation_reason = reason
        else:
            required, target = TRANSITIONS[name]
            if current != required:
                raise Conflict(
                    f"The tender is {current}; {name} needs it to be {required}.",
                    extra={"status": current, "requiredStatus": required},
                )
            if name == "publication":
                _check_publishable(tender, lots, now)
            if name == "enrollment-closure":
                # Closing early moves the window's end, so enrollments see one closing time.
                tender.enrollment_closes_at = now
        if current != tender.status:
            # The window closed by time; record that moment before the explicit move.
            await history.record(
                session,
                tender_id=tender.id,
                entity="tender",
                entity_id=tender.id,
                action="enrollment-closed-by-time",
                from_status=tender.status,
                to_status=current,
                actor=SYSTEM_ACTOR,
                at=tender.enrollment_closes_at,
                event_type="tender.status-changed",
                event_data={**snapshot(tender, now), "status": current},
            )
        previous = current
        tender.status = target
        tender.version += 1
        tender.updated_at = now
        await history.record(
            session,
            tender_id=tender.id,
            entity="tender",
            entity_id=tender.id,
            action=name,
            from_status=previous,
            to_status=target,
            reason=reason,
            actor=actor,
            at=now,
            event_type="tender.status-changed",
            event_data={**snapshot(tender, now), "previousStatus": previous, "reason": reason},
        )
    return tender, lots


def _check_publishable(tender: Tender, lots: list[Lot], now: datetime) -> None:
    problems = []
    if not lots:
        problems.append({"name": "lots", "reason": "a tender needs at least one lot to open"})
    if tender.enrollment_closes_at <= now:
        problems.append({"name": "enrollmentClosesAt", "reason": "must be in the future"})
    if problems:
        raise Conflict(
            "The tender cannot be opened for enrollment yet.", extra={"invalidParams": problems}
        )


def lot_values(tender: Tender, lots: list[Lot]) -> dict[uuid.UUID, Decimal]:
    """Each lot's estimated value: its own, or an even share of what the others leave."""
    explicit = {lot.id: lot.estimated_value for lot in lots if lot.estimated_value is not None}
    rest = [lot for lot in lots if lot.estimated_value is None]
    remaining = max(Decimal(0), tender.estimated_value - sum(explicit.values(), Decimal(0)))
    share = (remaining / len(rest)).quantize(Decimal("0.01")) if rest else Decimal(0)
    values: dict[uuid.UUID, Decimal] = {k: Decimal(v) for k, v in explicit.items() if v is not None}
    for lot in rest:
        values[lot.id] = share
    return values
