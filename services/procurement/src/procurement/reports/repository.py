"""The queries behind demand and the OCDS export: enrollments grouped in SQL."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import metadata
from .schemas import MIN_GROUP

# Core columns: typed for SQL expressions (the model attributes are typed as values).
E = metadata.tables["enrollments"].c
L = metadata.tables["enrollment_lots"].c
H = metadata.tables["history"].c
ENROLLED = "enrolled"


class DemandRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def demand_rows(
        self, tender_id: uuid.UUID
    ) -> tuple[list[tuple[uuid.UUID, str | None, int, int]], dict[str | None, int]]:
        """What demand counts: the volumes, and the participants per province."""
        return await self.volumes(tender_id), await self.participants_by_province(tender_id)

    async def ocds_rows(self, tender_id: uuid.UUID) -> tuple[list[Any], dict[uuid.UUID, int]]:
        """What the OCDS release lists: the buyers, and the volume per lot."""
        return await self.buyer_rows(tender_id), await self.lot_volumes(tender_id)

    async def volumes(self, tender_id: uuid.UUID) -> list[tuple[uuid.UUID, str | None, int, int]]:
        """(lot, province, participants, volume) of active enrollments."""
        query = (
            select(
                L.lot_id,
                E.province,
                func.count(func.distinct(E.id)),
                func.coalesce(func.sum(L.expected_volume), 0),
            )
            .join_from(
                metadata.tables["enrollment_lots"],
                metadata.tables["enrollments"],
                E.id == L.enrollment_id,
            )
            .where(E.tender_id == tender_id, E.status == ENROLLED)
            .group_by(L.lot_id, E.province)
        )
        return [(r[0], r[1], int(r[2]), int(r[3])) for r in await self.session.execute(query)]

    async def participants_by_province(self, tender_id: uuid.UUID) -> dict[str | None, int]:
        query = (
            select(E.province, func.count())
            .where(E.tender_id == tender_id, E.status == ENROLLED)
            .group_by(E.province)
        )
        return {r[0]: int(r[1]) for r in await self.session.execute(query)}

    async def buyer_rows(self, tender_id: uuid.UUID) -> list[Any]:
        """(OIN, name, CBS code, province, status, updated_at) of every enrollment, as
        plain rows (342 buyers as tuples cost a fraction of ORM objects); withdrawn ones
        come along for the last change time."""
        query = (
            select(
                E.municipality_oin,
                E.municipality_name,
                E.municipality_cbs_code,
                E.province,
                E.status,
                E.updated_at,
            )
            .where(E.tender_id == tender_id)
            .order_by(E.municipality_oin)
        )
        return list((await self.session.execute(query)).all())

    async def lot_volumes(self, tender_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """Each lot's total volume, of the lots with at least ``MIN_GROUP`` participants
        (the release is for everyone: a smaller total tells a municipality's volume)."""
        query = (
            select(L.lot_id, func.sum(L.expected_volume))
            .join_from(
                metadata.tables["enrollment_lots"],
                metadata.tables["enrollments"],
                E.id == L.enrollment_id,
            )
            .where(E.tender_id == tender_id, E.status == ENROLLED)
            .group_by(L.lot_id)
            .having(func.count() >= MIN_GROUP)
        )
        return {r[0]: int(r[1]) for r in await self.session.execute(query)}

    async def was_published(self, tender_id: uuid.UUID) -> bool:
        """Whether the tender was ever opened for enrollment (its history says so)."""
        query = (
            select(H.id)
            .where(H.tender_id == tender_id, H.entity == "tender", H.action == "publication")
            .limit(1)
        )
        return (await self.session.execute(query)).first() is not None
