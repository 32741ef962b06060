"""Every query of applying a merger: the record of it, and the enrollments it moves."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, text
from sqlmodel import col, select

from servicekit.repository import Repository

from ..enrollments.models import Enrollment, EnrollmentLot, Mandate
from ..enrollments.terms import ENROLLED
from .models import AppliedMerger


class MergerRepository(Repository[AppliedMerger]):
    model = AppliedMerger
    label = "applied merger"

    async def find(self, merger_id: uuid.UUID) -> AppliedMerger | None:
        return await self.first(col(AppliedMerger.merger_id) == merger_id)

    async def lock(self, merger_id: uuid.UUID) -> None:
        """Hold off other applies of this merger until the transaction ends (PostgreSQL: a
        transaction-scoped advisory lock keyed by the merger; SQLite's writers are
        serialised by BEGIN IMMEDIATE already)."""
        if self.session.bind.dialect.name == "postgresql":
            key = int.from_bytes(merger_id.bytes[:8], "big", signed=True)
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def enrolled(self, oin: str) -> list[Enrollment]:
        """The municipality's current enrollments, locked until the merger commits."""
        query = (
            select(Enrollment)
            .where(col(Enrollment.municipality_oin) == oin, col(Enrollment.status) == ENROLLED)
            .order_by(col(Enrollment.created_at), col(Enrollment.id))
            .with_for_update()
        )
        return list((await self.session.execute(query)).scalars())

    async def enrollment_of(self, tender_id: uuid.UUID, oin: str) -> Enrollment | None:
        query = select(Enrollment).where(
            col(Enrollment.tender_id) == tender_id, col(Enrollment.municipality_oin) == oin
        )
        return (await self.session.execute(query.with_for_update())).scalars().first()

    async def lines(self, enrollment_id: uuid.UUID) -> list[EnrollmentLot]:
        query = select(EnrollmentLot).where(col(EnrollmentLot.enrollment_id) == enrollment_id)
        return list((await self.session.execute(query)).scalars())

    async def drop_lines(self, enrollment_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(EnrollmentLot).where(col(EnrollmentLot.enrollment_id) == enrollment_id)
        )
        await self.session.flush()

    async def copy_current_mandate(
        self, enrollment: Enrollment, into: Enrollment, now: datetime
    ) -> None:
        """The enrollment's current mandate, as signed, recorded again on ``into`` (mandate
        rows are never changed, so moving one is a copy)."""
        query = (
            select(Mandate)
            .where(col(Mandate.enrollment_id) == enrollment.id)
            .order_by(col(Mandate.recorded_at).desc())
            .limit(1)
        )
        signed = (await self.session.execute(query)).scalar_one()
        values = {c.key: getattr(signed, c.key) for c in Mandate.__table__.columns}  # type: ignore[attr-defined]
        self.session.add(
            Mandate(**{**values, "id": uuid.uuid4(), "enrollment_id": into.id, "recorded_at": now})
        )
