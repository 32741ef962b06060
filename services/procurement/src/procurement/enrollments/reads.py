"""Reading enrollments: who may see which, their answers in few queries, and registry
details filled in when the registry answers again."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.events import CloudEvent
from servicekit.pagination import PageParams

from ..registry_client import RegistryClient, RegistryUnavailable
from ..tenders.repository import TenderRepository
from .models import Enrollment
from .registry_details import Municipality
from .repository import EnrollmentRepository
from .schemas import EnrollmentOut, MandateOut, enrollment_out, mandate_out
from .terms import enrollment_etag, require_reader

ENROLLMENT_EVENT_PREFIX = "nl.samen.procurement.enrollment."
# What every reader of the feed learns of an enrollment event: that this enrollment of
# this tender changed (the tender's demand report counts it), not who enrolled for what.
PUBLIC_ENROLLMENT_EVENT_KEYS = ("tenderId", "enrollmentId")


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
    repo = EnrollmentRepository(session)
    async with session.begin():
        rows = await repo.without_details(tender_id, enrollment_ids)
    found: dict[uuid.UUID, Municipality] = {}
    for enrollment_id, oin in rows:
        try:
            data = await registry.municipality(oin, lookup_missing=False)
        except RegistryUnavailable:
            break
        municipality = Municipality.from_registry(oin, data)
        if municipality.id is not None:
            found[enrollment_id] = municipality
    if found:
        async with session.begin():
            await repo.fill_details(found.items())
    return len(found)


async def _readable(
    repo: EnrollmentRepository, principal: Principal, tender_id: uuid.UUID, enrollment_id: uuid.UUID
) -> Enrollment:
    tender = await TenderRepository(repo.session).get(tender_id)
    enrollment = await repo.get_in(tender_id, enrollment_id)
    require_reader(principal, tender, enrollment)
    return enrollment


async def output(session: AsyncSession, enrollment: Enrollment) -> tuple[EnrollmentOut, str]:
    """The enrollment as the API shows it, with its ETag."""
    async with session.begin():
        (out,) = await outputs(EnrollmentRepository(session), [enrollment])
    return out, enrollment_etag(enrollment)


async def get(
    session: AsyncSession,
    principal: Principal,
    tender_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    *,
    registry: RegistryClient,
) -> tuple[EnrollmentOut, str]:
    repo = EnrollmentRepository(session)
    async with session.begin():
        enrollment = await _readable(repo, principal, tender_id, enrollment_id)
    # Enrolled while the registry was down: its details, if it answers now.
    if enrollment.municipality_id is None and await fill_registry_details(
        session, registry, tender_id, [enrollment.id]
    ):
        async with session.begin():
            await session.refresh(enrollment)
    return await output(session, enrollment)


async def list_enrollments(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    tender_id: uuid.UUID,
    params: PageParams,
    status: str | None,
) -> tuple[list[EnrollmentOut], int]:
    """The lead party sees all; others only their own municipality's enrollment."""
    repo = EnrollmentRepository(session)
    async with session.begin():
        tender = await TenderRepository(session).get(tender_id)
        own = None if principal.org_id == tender.lead_party_oin else principal.org_id or ""
        rows, total = await repo.list_page(tender_id, params, oin=own, status=status)
    # Enrolled while the registry was down: their details, if it answers now (only the
    # rows on this page; while it is still down the list shows what is stored).
    missing = [e.id for e in rows if e.municipality_id is None]
    filled = bool(missing) and await fill_registry_details(session, registry, tender_id, missing)
    async with session.begin():
        if filled:
            await repo.reload(missing)
        return await outputs(repo, rows), total


async def list_mandates(
    session: AsyncSession, principal: Principal, tender_id: uuid.UUID, enrollment_id: uuid.UUID
) -> list[MandateOut]:
    repo = EnrollmentRepository(session)
    async with session.begin():
        await _readable(repo, principal, tender_id, enrollment_id)
        return [mandate_out(m) for m in await repo.mandates(enrollment_id)]


async def outputs(repo: EnrollmentRepository, enrollments: list[Enrollment]) -> list[EnrollmentOut]:
    """Responses for many enrollments with two queries, not two per row."""
    if not enrollments:
        return []
    lines, mandates = await repo.lines_and_mandates([e.id for e in enrollments])
    return [enrollment_out(e, lines[e.id], mandates[e.id]) for e in enrollments]


async def feed_view(
    session: AsyncSession, principal: Principal, events: list[CloudEvent]
) -> list[CloudEvent]:
    """The change feed as this caller may read it: an enrollment event whole for the
    enrolled municipality and the tender's lead party (who read the enrollment itself),
    for others only :data:`PUBLIC_ENROLLMENT_EVENT_KEYS`, as the enrollments list and
    the history show them nothing of other municipalities' enrollments."""
    if not any(e.type.startswith(ENROLLMENT_EVENT_PREFIX) for e in events):
        return events
    tender_ids = {uuid.UUID(str(e.data["tenderId"])) for e in events if "tenderId" in e.data}
    leads = await TenderRepository(session).lead_parties(tender_ids)

    def view(event: CloudEvent) -> CloudEvent:
        if not event.type.startswith(ENROLLMENT_EVENT_PREFIX):
            return event
        tender_id = uuid.UUID(str(event.data["tenderId"]))
        if principal.org_id and principal.org_id in (
            event.data.get("municipalityOin"),
            leads.get(tender_id),
        ):
            return event
        kept = {k: v for k, v in event.data.items() if k in PUBLIC_ENROLLMENT_EVENT_KEYS}
        return event.model_copy(update={"data": kept})

    return [view(e) for e in events]
