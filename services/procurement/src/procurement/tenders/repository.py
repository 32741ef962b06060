"""Every query of tenders, their lots and their history."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col

from servicekit.errors import NotFound
from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..history import HistoryEntry
from .models import Lot, Tender


class TenderRepository(Repository[Tender]):
    model = Tender
    label = "tender"

    async def with_lots(self, tender_id: uuid.UUID) -> tuple[Tender, list[Lot]]:
        """The tender (404 when unknown) and its lots by number."""
        return await self.get(tender_id), await self.lots(tender_id)

    async def lots(self, tender_id: uuid.UUID) -> list[Lot]:
        query = select(Lot).where(col(Lot.tender_id) == tender_id).order_by(col(Lot.number))
        return list((await self.session.execute(query)).scalars())

    async def lots_of(self, tender_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Lot]]:
        by_tender: dict[uuid.UUID, list[Lot]] = {t: [] for t in tender_ids}
        if by_tender:
            query = select(Lot).where(col(Lot.tender_id).in_(list(by_tender)))
            for lot in (await self.session.execute(query)).scalars():
                by_tender[lot.tender_id].append(lot)
        return by_tender

    async def lead_parties(self, tender_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The lead party's OIN of each of these tenders."""
        query = select(col(Tender.id), col(Tender.lead_party_oin)).where(
            col(Tender.id).in_(list(tender_ids))
        )
        return {row.id: row.lead_party_oin for row in await self.session.execute(query)}

    async def lot(self, tender_id: uuid.UUID, lot_id: uuid.UUID) -> Lot:
        query = select(Lot).where(col(Lot.id) == lot_id, col(Lot.tender_id) == tender_id)
        lot = (await self.session.execute(query)).scalar_one_or_none()
        if lot is None:
            raise NotFound(f"Lot {lot_id} does not exist in tender {tender_id}.")
        return lot

    async def last_lot_number(self, tender_id: uuid.UUID) -> int:
        query = select(func.coalesce(func.max(Lot.number), 0)).where(
            col(Lot.tender_id) == tender_id
        )
        return int((await self.session.execute(query)).scalar_one())

    async def list_page(
        self,
        params: PageParams,
        *,
        status: str | None,
        facility_id: uuid.UUID | None,
        now: datetime,
        open_status: str,
        closed_status: str,
        hidden: tuple[str, ...] = (),
    ) -> tuple[list[Tender], int]:
        """A page of tenders, newest first, by effective status: an open tender past its
        closing time counts as closed. Tenders in a ``hidden`` status are left out."""
        query = select(Tender)
        if hidden:
            query = query.where(col(Tender.status).not_in(hidden))
        if facility_id:
            query = query.where(col(Tender.facility_id) == facility_id)
        closes_at = col(Tender.enrollment_closes_at)
        if status == closed_status:
            query = query.where(
                (col(Tender.status) == closed_status)
                | ((col(Tender.status) == open_status) & (closes_at <= now))
            )
        elif status == open_status:
            query = query.where(col(Tender.status) == open_status, closes_at > now)
        elif status:
            query = query.where(col(Tender.status) == status)
        return await self.page(query, params, col(Tender.created_at).desc(), col(Tender.id))

    async def history_page(
        self, tender_id: uuid.UUID, params: PageParams, *, with_enrollments: bool
    ) -> tuple[list[HistoryEntry], int]:
        query = select(HistoryEntry).where(col(HistoryEntry.tender_id) == tender_id)
        if not with_enrollments:
            query = query.where(col(HistoryEntry.entity) != "enrollment")
        return await self.page(query, params, col(HistoryEntry.at), col(HistoryEntry.id))
