"""Reading tenders, lots and their history: callers without ``procurement:read`` see
published tenders only (a draft or cancelled one is a 404 to them); a tender's history
shows who enrolled when to its lead party only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.clock import Clock
from servicekit.errors import NotFound
from servicekit.pagination import PageParams

from ..schemas import HistoryOut
from .models import Tender
from .repository import TenderRepository
from .schemas import LotOut, TenderOut, lot_out, tender_out
from .terms import CLOSED, OPEN, UNPUBLISHED, tender_etag


async def list_tenders(
    session: AsyncSession,
    params: PageParams,
    *,
    status: str | None,
    facility_id: uuid.UUID | None,
    now: datetime,
    published_only: bool = False,
) -> tuple[list[TenderOut], int]:
    repo = TenderRepository(session)
    tenders, total = await repo.list_page(
        params,
        status=status,
        facility_id=facility_id,
        now=now,
        open_status=OPEN,
        closed_status=CLOSED,
        hidden=UNPUBLISHED if published_only else (),
    )
    lots = await repo.lots_of(t.id for t in tenders)
    return [tender_out(t, lots[t.id], now) for t in tenders], total


async def _visible(repo: TenderRepository, tender_id: uuid.UUID, published_only: bool) -> Tender:
    """The tender, or 404 as if it did not exist when the caller may see only published
    tenders and this one is not."""
    tender = await repo.get(tender_id)
    if published_only and tender.status in UNPUBLISHED:
        raise NotFound(f"No tender with id {tender_id}.")
    return tender


async def get_tender(
    session: AsyncSession, published_only: bool, tender_id: uuid.UUID, *, clock: Clock
) -> tuple[TenderOut, str]:
    now = clock()
    repo = TenderRepository(session)
    tender = await _visible(repo, tender_id, published_only)
    return tender_out(tender, await repo.lots(tender_id), now), tender_etag(tender, now)


async def list_lots(
    session: AsyncSession, published_only: bool, tender_id: uuid.UUID
) -> list[LotOut]:
    repo = TenderRepository(session)
    await _visible(repo, tender_id, published_only)
    return [lot_out(lot) for lot in await repo.lots(tender_id)]


async def get_lot(
    session: AsyncSession, published_only: bool, tender_id: uuid.UUID, lot_id: uuid.UUID
) -> LotOut:
    repo = TenderRepository(session)
    await _visible(repo, tender_id, published_only)
    return lot_out(await repo.lot(tender_id, lot_id))


async def list_history(
    session: AsyncSession, principal: Principal, tender_id: uuid.UUID, params: PageParams
) -> tuple[list[HistoryOut], int]:
    """The lead party sees everything; others the tender's own lifecycle, not who
    enrolled when."""
    repo = TenderRepository(session)
    tender = await repo.get(tender_id)
    entries, total = await repo.history_page(
        tender_id, params, with_enrollments=principal.org_id == tender.lead_party_oin
    )
    return [HistoryOut.model_validate(e) for e in entries], total
