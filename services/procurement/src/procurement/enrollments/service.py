"""Enrollment rules: who may enroll, the mandate, the window, start dates, exactly-once."""

from __future__ import annotations

import asyncio
import calendar
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cachetools import LRUCache
from fastapi import Response
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import LOA_SUBSTANTIAL, Principal, loa_at_least
from servicekit.clock import Clock
from servicekit.errors import BadRequest, Conflict, Forbidden, NotFound
from servicekit.http import make_etag
from servicekit.idempotency import IdempotencyKey, record, replay, replay_before
from servicekit.responses import json_response

from .. import history
from ..db import idempotency_keys
from ..registry_client import RegistryClient, RegistryUnavailable
from ..tenders.models import Lot, Tender
from ..tenders.repository import TenderRepository
from ..tenders.terms import OPEN, effective_status
from .models import Enrollment, EnrollmentLot, Mandate
from .schemas import (
    MANDATE_POWERS,
    EnrollmentChange,
    EnrollmentIn,
    EnrollmentLotIn,
    EnrollmentLotOut,
    EnrollmentOut,
    MandateIn,
    MandateOut,
    MandateScope,
    MunicipalityOut,
)

ENROLLED = "enrolled"
WITHDRAWN = "withdrawn"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def require_municipality_staff(principal: Principal) -> str:
    if principal.org_type != "municipality" or not principal.org_id:
        raise Forbidden("Only staff of a municipality may enroll it in a tender.")
    return principal.org_id


def require_assurance(principal: Principal) -> None:
    """A mandate binds the municipality: the signer's login must be at least substantial."""
    if not loa_at_least(principal.acr, LOA_SUBSTANTIAL):
        raise Forbidden(
            "Signing a mandate needs a login of level of assurance 'substantial' or higher; "
            "log in again with a stronger means.",
            slug="insufficient-assurance",
            title="Insufficient Level of Assurance",
            extra={"requiredAcr": LOA_SUBSTANTIAL, "acr": principal.acr},
            headers={
                "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
                f'acr_values="{LOA_SUBSTANTIAL}"'
            },
        )


def check_window(tender: Tender, now: datetime) -> None:
    status = effective_status(tender, now)
    opens, closes = tender.enrollment_opens_at, tender.enrollment_closes_at
    if status == OPEN and now < opens:
        raise Conflict(
            "The enrollment window has not opened yet.",
            slug="enrollment-window-not-open",
            extra={"opensAt": opens.isoformat(), "closesAt": closes.isoformat()},
        )
    if status != OPEN:
        extra: dict[str, Any] = {"status": status}
        if status != "draft":
            extra["closesAt"] = closes.isoformat()
        raise Conflict(
            "The enrollment window is closed." if status != "draft" else "The tender is a draft.",
            slug="enrollment-window-closed",
            extra=extra,
        )


def enrollment_etag(enrollment: Enrollment) -> str:
    return make_etag(enrollment.id, enrollment.version)


@dataclass
class StartDate:
    value: date
    source: str
    explanation: str


@dataclass
class Municipality:
    oin: str
    id: uuid.UUID | None = None
    name: str | None = None
    cbs_code: str | None = None
    province: str | None = None

    @classmethod
    def from_registry(cls, oin: str, data: dict[str, Any] | None) -> Municipality:
        if not data:
            return cls(oin=oin)
        try:
            reg_id = uuid.UUID(str(data.get("id")))
        except ValueError:
            reg_id = None
        return cls(
            oin=oin,
            id=reg_id,
            name=data.get("name"),
            cbs_code=data.get("cbsCode"),
            province=data.get("province"),
        )


async def _municipality(
    registry: RegistryClient, oin: str, needed: bool
) -> tuple[Municipality, bool]:
    """Registry details of the caller's municipality; (details, registry_reached)."""
    try:
        data = await registry.municipality(oin)
        return Municipality.from_registry(oin, data), True
    except RegistryUnavailable:
        if needed:
            raise
        # Degraded: explicit start dates need no registry; keep what we cached earlier.
        # What is still missing is filled in later (fill_registry_details).
        return Municipality.from_registry(oin, registry.cached_municipality(oin)), False


async def _proposed_start(
    registry: RegistryClient, tender: Tender, municipality: Municipality
) -> StartDate:
    planned = tender.planned_start_date
    if municipality.id is None:
        return StartDate(
            planned,
            "planned-start",
            f"The municipality is not in the registry, so no current contract for "
            f"{tender.facility_name} is known; the tender's planned start {planned} is used.",
        )
    usages = await registry.usages(str(municipality.id), str(tender.facility_id))
    ends = []
    for usage in usages:
        if usage.get("status") != "active" or not usage.get("contractEndDate"):
            continue
        try:
            ends.append(date.fromisoformat(str(usage["contractEndDate"])))
        except ValueError:
            continue
    if not ends:
        return StartDate(
            planned,
            "planned-start",
            f"The registry shows no active contract for {tender.facility_name}; the tender's "
            f"planned start {planned} is used.",
        )
    end = max(ends)
    proposed = end + timedelta(days=1)
    note = ""
    if proposed < planned:
        note = f" This is before the joint contract's planned start {planned}."
    return StartDate(
        proposed,
        "registry-contract-end",
        f"The current contract for {tender.facility_name} ends on {end} (registry); the "
        f"proposed start is the day after.{note}",
    )


async def _start_dates(
    registry: RegistryClient,
    tender: Tender,
    municipality: Municipality,
    lines: list[EnrollmentLotIn],
) -> list[StartDate]:
    proposed: StartDate | None = None
    if any(line.desired_start_date is None for line in lines):
        proposed = await _proposed_start(registry, tender, municipality)
    out = []
    for line in lines:
        if line.desired_start_date is not None:
            out.append(StartDate(line.desired_start_date, "explicit", "Given by the municipality."))
        else:
            assert proposed is not None
            out.append(proposed)
    return out


def _check_lots(lines: list[EnrollmentLotIn], lots: list[Lot]) -> None:
    known = {lot.id for lot in lots}
    bad = [
        {"name": f"lots[{i}].lotId", "reason": "not a lot of this tender"}
        for i, line in enumerate(lines)
        if line.lot_id not in known
    ]
    if bad:
        raise BadRequest("Some lots do not belong to this tender.", invalid_params=bad)


def _contract_end(tender: Tender) -> date:
    """The joint contract's last day (planned start + duration in calendar months)."""
    months = tender.planned_start_date.month - 1 + tender.contract_duration_months
    year, month = tender.planned_start_date.year + months // 12, months % 12 + 1
    day = min(tender.planned_start_date.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) - timedelta(days=1)


def _check_start_dates(lines: list[EnrollmentLotIn], tender: Tender, now: datetime) -> None:
    """A desired start date the municipality gives must lie within the joint contract
    (which cannot start in the past): from its planned start to its planned end."""
    earliest = max(tender.planned_start_date, now.astimezone(AMSTERDAM).date())
    latest = _contract_end(tender)
    bad = [
        {
            "name": f"lots[{i}].desiredStartDate",
            "reason": f"outside the joint contract: from {earliest} to {latest}",
        }
        for i, line in enumerate(lines)
        if line.desired_start_date is not None and not earliest <= line.desired_start_date <= latest
    ]
    if bad:
        raise BadRequest(
            "A desired start date lies outside the joint contract.", invalid_params=bad
        )


def _check_mandate(mandate: MandateIn, now: datetime) -> None:
    today = now.astimezone(AMSTERDAM).date()
    if mandate.signed_date > today:
        raise BadRequest(
            "A mandate cannot be signed in the future.",
            invalid_params=[{"name": "mandate.signedDate", "reason": "after today"}],
        )


def _new_mandate(
    enrollment: Enrollment,
    tender: Tender,
    principal: Principal,
    mandate: MandateIn,
    lot_ids: list[uuid.UUID],
    now: datetime,
) -> Mandate:
    scope = {
        "tenderId": str(tender.id),
        "lotIds": [str(i) for i in lot_ids],
        "municipalityOin": enrollment.municipality_oin,
        "leadPartyOin": tender.lead_party_oin,
        "powers": list(MANDATE_POWERS),
    }
    return Mandate(
        enrollment_id=enrollment.id,
        tender_id=tender.id,
        municipality_oin=enrollment.municipality_oin,
        lead_party_oin=tender.lead_party_oin,
        signer_name=mandate.signer_name,
        signer_role=mandate.signer_role,
        signer_subject=principal.subject,
        signer_acr=principal.acr or "",
        signed_date=mandate.signed_date,
        scope=json.dumps(scope),
        recorded_at=now,
    )


def _lines(
    enrollment: Enrollment, lines: list[EnrollmentLotIn], dates: list[StartDate]
) -> list[EnrollmentLot]:
    return [
        EnrollmentLot(
            enrollment_id=enrollment.id,
            lot_id=line.lot_id,
            expected_volume=line.expected_volume,
            desired_start_date=d.value,
            start_date_source=d.source,
            start_date_explanation=d.explanation,
        )
        for line, d in zip(lines, dates, strict=True)
    ]


def _event(enrollment: Enrollment, lines: list[EnrollmentLot]) -> dict[str, Any]:
    return {
        "tenderId": str(enrollment.tender_id),
        "enrollmentId": str(enrollment.id),
        "municipalityOin": enrollment.municipality_oin,
        "status": enrollment.status,
        "lots": [{"lotId": str(x.lot_id), "expectedVolume": x.expected_volume} for x in lines],
        "version": enrollment.version,
    }


def _apply_municipality(enrollment: Enrollment, municipality: Municipality) -> None:
    """Fill registry details, never erase ones we had (an outage must not lose data)."""
    if municipality.id is not None:
        enrollment.municipality_id = municipality.id
    if municipality.name:
        enrollment.municipality_name = municipality.name
    if municipality.cbs_code:
        enrollment.municipality_cbs_code = municipality.cbs_code
    if municipality.province:
        enrollment.province = municipality.province


# Published tenders' terms (facility, planned start, lots) can no longer change, so the
# enrollment hot path reuses them instead of a read transaction per submission. The
# window and status are always checked again on the locked row inside the write.
_TERMS: LRUCache[uuid.UUID, tuple[Tender, list[Lot]]] = LRUCache(maxsize=256)


_TERMS_LOADING: dict[uuid.UUID, asyncio.Lock] = {}


async def _read_tender(session: AsyncSession, tender_id: uuid.UUID) -> tuple[Tender, list[Lot]]:
    cached = _TERMS.get(tender_id)
    if cached is not None:
        return cached
    # Single flight: a burst arriving before the terms are cached reads them once, not
    # once per request (684 read transactions on one SQLite connection, before this).
    lock = _TERMS_LOADING.setdefault(tender_id, asyncio.Lock())
    try:
        async with lock:
            cached = _TERMS.get(tender_id)
            if cached is not None:
                return cached
            return await _load_terms(session, tender_id)
    finally:
        if _TERMS_LOADING.get(tender_id) is lock and not lock.locked():
            del _TERMS_LOADING[tender_id]


async def _load_terms(session: AsyncSession, tender_id: uuid.UUID) -> tuple[Tender, list[Lot]]:
    async with session.begin():
        tender = await TenderRepository(session).get(tender_id)
        lots = await TenderRepository(session).lots(tender_id)
    if tender.status != "draft":
        # Detached copies: a later rollback in any session must not expire (and so
        # break) the objects every request shares.
        for row in (tender, *lots):
            session.expunge(row)
        _TERMS[tender_id] = (tender, lots)
    return tender, lots


async def _locked_tender(session: AsyncSession, tender_id: uuid.UUID) -> Tender:
    # FOR SHARE: enrollments proceed side by side, but an early closure waits for them.
    query = select(Tender).where(Tender.id == tender_id).with_for_update(read=True)  # type: ignore[arg-type]
    tender = (await session.execute(query)).scalar_one_or_none()
    if tender is None:
        raise NotFound(f"Tender {tender_id} does not exist.")
    return tender


def _values(row: Any) -> dict[str, Any]:
    """Column values of a (transient) model instance, for a Core INSERT."""
    return {c.key: getattr(row, c.key) for c in type(row).__table__.columns}


class _Enrolled(Exception):
    """The municipality is already enrolled (found inside the write transaction)."""


async def _insert_enrollment(session: AsyncSession, enrollment: Enrollment) -> bool:
    """INSERT unless (tender, municipality) exists; False when it does. On PostgreSQL a
    concurrent uncommitted twin makes this wait for it, then do nothing."""
    table = Enrollment.__table__  # type: ignore[attr-defined]
    dialect = session.bind.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).on_conflict_do_nothing(
            index_elements=["tender_id", "municipality_oin"]
        )
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing(
            index_elements=["tender_id", "municipality_oin"]
        )
    else:  # pragma: no cover - other databases: the unique constraint still decides
        stmt = insert(table)
    # Core statements on the session's connection skip the ORM's execute machinery.
    conn = await session.connection()
    result = await conn.execute(stmt.values(**_values(enrollment)))
    return bool(result.rowcount)


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
    oin = require_municipality_staff(principal)
    require_assurance(principal)
    if key is not None:
        stored = await replay_before(session.bind, idempotency_keys, key)  # type: ignore[arg-type]
        if stored is not None:
            return stored
    tender, lots = await _read_tender(session, tender_id)
    check_window(tender, clock())
    _check_lots(body.lots, lots)
    _check_start_dates(body.lots, tender, clock())
    _check_mandate(body.mandate, clock())
    # Registry calls happen outside any transaction (no locks held while waiting).
    needs_registry = any(line.desired_start_date is None for line in body.lots)
    municipality, _reached = await _municipality(registry, oin, needs_registry)
    dates = await _start_dates(registry, tender, municipality, body.lots)

    actor = Actor.of(principal)
    try:
        async with session.begin():
            now = clock()
            tender = await _locked_tender(session, tender_id)
            check_window(tender, now)
            enrollment = Enrollment(
                tender_id=tender_id,
                municipality_oin=oin,
                status=ENROLLED,
                created_by=principal.subject,
                created_at=now,
                updated_at=now,
            )
            _apply_municipality(enrollment, municipality)
            action = "enrolled"
            if not await _insert_enrollment(session, enrollment):
                existing = await _find_in(session, tender_id, oin)
                if existing is None or existing.status == ENROLLED:
                    raise _Enrolled
                # Re-enrolling after a withdrawal reuses the one row per municipality.
                enrollment = existing
                enrollment.status = ENROLLED
                enrollment.withdrawn_at = None
                enrollment.version += 1
                enrollment.updated_at = now
                _apply_municipality(enrollment, municipality)
                await session.execute(
                    delete(EnrollmentLot).where(EnrollmentLot.enrollment_id == enrollment.id)  # type: ignore[arg-type]
                )
                await session.flush()
                action = "re-enrolled"
            lines = _lines(enrollment, body.lots, dates)
            conn = await session.connection()
            await conn.execute(
                insert(EnrollmentLot.__table__),  # type: ignore[attr-defined]
                [_values(x) for x in lines],
            )
            mandate = _new_mandate(
                enrollment, tender, principal, body.mandate, [x.lot_id for x in body.lots], now
            )
            await conn.execute(insert(Mandate.__table__).values(**_values(mandate)))  # type: ignore[attr-defined]
            out = enrollment_out(enrollment, lines, mandate)
            response = json_response(
                out,
                201,
                etag=make_etag(out.id, out.version),
                location=f"/v1/tenders/{tender_id}/enrollments/{out.id}",
            )
            if key is not None:
                await record(conn, idempotency_keys, key, response)
            # Last: the event outbox serialises its writers until commit.
            await history.record(
                session,
                tender_id=tender_id,
                entity="enrollment",
                entity_id=enrollment.id,
                action=action,
                to_status=ENROLLED,
                actor=actor,
                at=now,
                event_type=f"enrollment.{action}",
                event_data=_event(enrollment, lines),
                data={"mandateId": str(mandate.id)},
            )
    except (_Enrolled, IntegrityError):
        # A concurrent submission for the same municipality won the race (our
        # transaction rolled back completely): its stored answer if it was this very
        # request (same Idempotency-Key), else 409 naming the enrollment.
        async with session.begin():
            stored = await replay(session, idempotency_keys, key) if key is not None else None
            existing = None if stored is not None else await _find_in(session, tender_id, oin)
        if stored is not None:
            return stored
        if existing is None:
            raise
        raise _already_enrolled(existing) from None
    return response


async def fill_registry_details(
    session: AsyncSession,
    registry: RegistryClient,
    tender_id: uuid.UUID,
    enrollment_ids: list[uuid.UUID] | None = None,
) -> int:
    """Registry details (id, name, CBS code, province) of enrollments made while the
    registry was down, filled in once it answers again; the number of rows filled.

    Called by the reads that show them (demand, OCDS, enrollments) when they meet a row
    without them, so per-province demand is right as soon as the registry is back. Best
    effort: while the registry is still down nothing changes and the next read tries
    again. These are derived registry data, not the municipality's submission, so the
    enrollment's version (ETag) stays. ``enrollment_ids`` limits the work to those rows
    (a list fills only the page it returns)."""
    table = Enrollment.__table__  # type: ignore[attr-defined]
    query = select(table.c.id, table.c.municipality_oin).where(
        table.c.tender_id == tender_id, table.c.municipality_id.is_(None)
    )
    if enrollment_ids is not None:
        query = query.where(table.c.id.in_(enrollment_ids))
    async with session.begin():
        rows = (await session.execute(query)).all()
    found: dict[uuid.UUID, Municipality] = {}
    for enrollment_id, oin in rows:
        try:
            data = await registry.municipality(oin, lookup_missing=False)
        except RegistryUnavailable:
            break
        municipality = Municipality.from_registry(oin, data)
        if municipality.id is not None:
            found[enrollment_id] = municipality
    if not found:
        return 0
    async with session.begin():
        for enrollment_id, m in found.items():
            await session.execute(
                table.update()
                .where(table.c.id == enrollment_id, table.c.municipality_id.is_(None))
                .values(
                    municipality_id=m.id,
                    municipality_name=func.coalesce(table.c.municipality_name, m.name),
                    municipality_cbs_code=func.coalesce(table.c.municipality_cbs_code, m.cbs_code),
                    province=func.coalesce(table.c.province, m.province),
                )
            )
    return len(found)


def _already_enrolled(existing: Enrollment) -> Conflict:
    location = f"/v1/tenders/{existing.tender_id}/enrollments/{existing.id}"
    return Conflict(
        "This municipality is already enrolled in the tender; change that enrollment instead.",
        slug="already-enrolled",
        extra={"enrollmentId": str(existing.id)},
        headers={"Location": location},
    )


async def _find_in(session: AsyncSession, tender_id: uuid.UUID, oin: str) -> Enrollment | None:
    return (
        await session.execute(
            select(Enrollment).where(
                Enrollment.tender_id == tender_id,  # type: ignore[arg-type]
                Enrollment.municipality_oin == oin,  # type: ignore[arg-type]
            )
        )
    ).scalar_one_or_none()


async def _load_enrollment(
    session: AsyncSession, tender_id: uuid.UUID, enrollment_id: uuid.UUID
) -> Enrollment:
    enrollment = (
        await session.execute(
            select(Enrollment).where(
                Enrollment.id == enrollment_id,  # type: ignore[arg-type]
                Enrollment.tender_id == tender_id,  # type: ignore[arg-type]
            )
        )
    ).scalar_one_or_none()
    if enrollment is None:
        raise NotFound(f"Enrollment {enrollment_id} does not exist in tender {tender_id}.")
    return enrollment


def _require_owner(principal: Principal, enrollment: Enrollment) -> None:
    if principal.org_id != enrollment.municipality_oin:
        raise Forbidden("Only staff of the enrolled municipality may change its enrollment.")


def require_reader(principal: Principal, tender: Tender, enrollment: Enrollment) -> None:
    """Mandates name a person: only the municipality and the lead party may read them."""
    if principal.org_id not in (enrollment.municipality_oin, tender.lead_party_oin):
        raise Forbidden("Only the municipality and the tender's lead party may read this.")


async def current_mandate(session: AsyncSession, enrollment_id: uuid.UUID) -> Mandate:
    query = (
        select(Mandate)
        .where(Mandate.enrollment_id == enrollment_id)  # type: ignore[arg-type]
        .order_by(Mandate.recorded_at.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(query)).scalar_one()


async def change(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    tender_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    body: EnrollmentChange,
    if_match: Any,
    clock: Clock,
) -> Enrollment:
    require_municipality_staff(principal)
    require_assurance(principal)
    async with session.begin():
        tender = await TenderRepository(session).get(tender_id)
        lots = await TenderRepository(session).lots(tender_id)
        enrollment = await _load_enrollment(session, tender_id, enrollment_id)
        _require_owner(principal, enrollment)
        if_match(enrollment_etag(enrollment))
        check_window(tender, clock())
        _check_lots(body.lots, lots)
        _check_start_dates(body.lots, tender, clock())
        mandate_now = await current_mandate(session, enrollment.id)
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
        _check_mandate(body.mandate, clock())
    needs_registry = any(line.desired_start_date is None for line in body.lots)
    municipality, _ = await _municipality(registry, enrollment.municipality_oin, needs_registry)
    dates = await _start_dates(registry, tender, municipality, body.lots)

    async with session.begin():
        now = clock()
        tender = await _locked_tender(session, tender_id)
        enrollment = await _load_enrollment(session, tender_id, enrollment_id)
        # Checked again inside the transaction: another change may have won meanwhile.
        if_match(enrollment_etag(enrollment))
        check_window(tender, now)
        if enrollment.status != ENROLLED:
            raise Conflict("A withdrawn enrollment cannot be changed; enroll again.")
        await session.execute(
            delete(EnrollmentLot).where(EnrollmentLot.enrollment_id == enrollment.id)  # type: ignore[arg-type]
        )
        lines = _lines(enrollment, body.lots, dates)
        session.add_all(lines)
        _apply_municipality(enrollment, municipality)
        enrollment.version += 1
        enrollment.updated_at = now
        data: dict[str, Any] = {}
        if body.mandate is not None:
            mandate = _new_mandate(
                enrollment, tender, principal, body.mandate, [x.lot_id for x in body.lots], now
            )
            session.add(mandate)
            data["mandateId"] = str(mandate.id)
        await history.record(
            session,
            tender_id=tender_id,
            entity="enrollment",
            entity_id=enrollment.id,
            action="changed",
            actor=Actor.of(principal),
            at=now,
            event_type="enrollment.changed",
            event_data=_event(enrollment, lines),
            data=data,
        )
    return enrollment


async def withdraw(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    reason: str | None,
    if_match: Any,
    clock: Clock,
) -> Enrollment:
    require_municipality_staff(principal)
    require_assurance(principal)
    async with session.begin():
        now = clock()
        tender = await _locked_tender(session, tender_id)
        enrollment = await _load_enrollment(session, tender_id, enrollment_id)
        _require_owner(principal, enrollment)
        if_match(enrollment_etag(enrollment))
        check_window(tender, now)
        if enrollment.status == WITHDRAWN:
            raise Conflict("The enrollment is already withdrawn.")
        enrollment.status = WITHDRAWN
        enrollment.withdrawn_at = now
        enrollment.version += 1
        enrollment.updated_at = now
        await history.record(
            session,
            tender_id=tender_id,
            entity="enrollment",
            entity_id=enrollment.id,
            action="withdrawn",
            from_status=ENROLLED,
            to_status=WITHDRAWN,
            reason=reason,
            actor=Actor.of(principal),
            at=now,
            event_type="enrollment.withdrawn",
            event_data=_event(enrollment, []),
        )
    return enrollment


async def get(
    session: AsyncSession, principal: Principal, tender_id: uuid.UUID, enrollment_id: uuid.UUID
) -> Enrollment:
    tender = await TenderRepository(session).get(tender_id)
    enrollment = await _load_enrollment(session, tender_id, enrollment_id)
    require_reader(principal, tender, enrollment)
    return enrollment


async def list_for(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Enrollment], int]:
    tender = await TenderRepository(session).get(tender_id)
    query = select(Enrollment).where(Enrollment.tender_id == tender_id)  # type: ignore[arg-type]
    if principal.org_id != tender.lead_party_oin:
        # Others see only their own municipality's enrollment.
        query = query.where(Enrollment.municipality_oin == (principal.org_id or ""))  # type: ignore[arg-type]
    if status:
        query = query.where(Enrollment.status == status)  # type: ignore[arg-type]
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (
        await session.execute(
            query.order_by(Enrollment.created_at, Enrollment.id).offset(offset).limit(limit)  # type: ignore[arg-type]
        )
    ).scalars()
    return list(rows), int(total)


async def reload(session: AsyncSession, enrollment_ids: list[uuid.UUID]) -> None:
    """Read these enrollments afresh into the session's instances (one query), e.g.
    after fill_registry_details changed them."""
    query = (
        select(Enrollment)
        .where(Enrollment.id.in_(enrollment_ids))  # type: ignore[attr-defined]
        .execution_options(populate_existing=True)
    )
    await session.execute(query)


async def list_mandates(session: AsyncSession, enrollment_id: uuid.UUID) -> list[Mandate]:
    query = (
        select(Mandate)
        .where(Mandate.enrollment_id == enrollment_id)  # type: ignore[arg-type]
        .order_by(Mandate.recorded_at)  # type: ignore[arg-type]
    )
    return list((await session.execute(query)).scalars())


def mandate_out(mandate: Mandate) -> MandateOut:
    return MandateOut(
        id=mandate.id,
        signer_name=mandate.signer_name,
        signer_role=mandate.signer_role,
        signer_acr=mandate.signer_acr,
        signed_date=mandate.signed_date,
        scope=MandateScope.model_validate(json.loads(mandate.scope)),
        recorded_at=mandate.recorded_at,
    )


async def outputs(session: AsyncSession, enrollments: list[Enrollment]) -> list[EnrollmentOut]:
    """Build responses for many enrollments with two queries, not two per row."""
    ids = [e.id for e in enrollments]
    if not ids:
        return []
    lines: dict[uuid.UUID, list[EnrollmentLot]] = {i: [] for i in ids}
    for line in (
        await session.execute(
            select(EnrollmentLot).where(EnrollmentLot.enrollment_id.in_(ids))  # type: ignore[attr-defined]
        )
    ).scalars():
        lines[line.enrollment_id].append(line)
    mandates: dict[uuid.UUID, Mandate] = {}
    for mandate in (
        await session.execute(
            select(Mandate)
            .where(Mandate.enrollment_id.in_(ids))  # type: ignore[attr-defined]
            .order_by(Mandate.recorded_at)  # type: ignore[arg-type]
        )
    ).scalars():
        mandates[mandate.enrollment_id] = mandate  # the latest wins
    return [enrollment_out(e, lines[e.id], mandates[e.id]) for e in enrollments]


def enrollment_out(
    enrollment: Enrollment, lines: list[EnrollmentLot], mandate: Mandate
) -> EnrollmentOut:
    return EnrollmentOut(
        id=enrollment.id,
        tender_id=enrollment.tender_id,
        municipality=MunicipalityOut(
            oin=enrollment.municipality_oin,
            id=enrollment.municipality_id,
            name=enrollment.municipality_name,
            cbs_code=enrollment.municipality_cbs_code,
            province=enrollment.province,
        ),
        status=enrollment.status,
        lots=[
            EnrollmentLotOut(
                lot_id=x.lot_id,
                expected_volume=x.expected_volume,
                desired_start_date=x.desired_start_date,
                desired_start_basis=x.start_date_source,
                desired_start_explanation=x.start_date_explanation,
            )
            for x in lines
        ],
        mandate=mandate_out(mandate),
        version=enrollment.version,
        created_at=enrollment.created_at,
        updated_at=enrollment.updated_at,
        withdrawn_at=enrollment.withdrawn_at if enrollment.withdrawn_at else None,
    )
