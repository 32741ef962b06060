"""Every query of enrollments, their lots and mandates."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from cachetools import LRUCache
from sqlalchemy import delete, func, insert, select
from sqlmodel import col

from servicekit.auth import Principal
from servicekit.errors import NotFound
from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..mergers.models import AppliedMerger
from ..tenders.models import Lot, Tender
from ..tenders.repository import TenderRepository
from .models import Enrollment, EnrollmentLot, Mandate
from .registry_details import StartDate
from .schemas import MANDATE_POWERS, EnrollmentLotIn, MandateIn

ENROLLMENTS: Any = Enrollment.__table__  # type: ignore[attr-defined]

# Published tenders' terms (facility, planned start, lots) can no longer change, so the
# enrollment hot path reuses them instead of a read transaction per submission. The
# window and status are always checked again on the locked row inside the write.
_TERMS: LRUCache[uuid.UUID, tuple[Tender, list[Lot]]] = LRUCache(maxsize=256)
_TERMS_LOADING: dict[uuid.UUID, asyncio.Lock] = {}


def column_values(row: Any) -> dict[str, Any]:
    """Column values of a (transient) model instance, for a Core INSERT."""
    return {c.key: getattr(row, c.key) for c in type(row).__table__.columns}


def new_mandate(
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


def new_lines(
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


class EnrollmentRepository(Repository[Enrollment]):
    model = Enrollment
    label = "enrollment"

    async def tender_terms(self, tender_id: uuid.UUID) -> tuple[Tender, list[Lot]]:
        """The tender and its lots, from the terms cache once published. Single flight:
        a burst arriving before the terms are cached reads them once."""
        cached = _TERMS.get(tender_id)
        if cached is not None:
            return cached
        lock = _TERMS_LOADING.setdefault(tender_id, asyncio.Lock())
        try:
            async with lock:
                cached = _TERMS.get(tender_id)
                if cached is not None:
                    return cached
                return await self._load_terms(tender_id)
        finally:
            if _TERMS_LOADING.get(tender_id) is lock and not lock.locked():
                del _TERMS_LOADING[tender_id]

    async def _load_terms(self, tender_id: uuid.UUID) -> tuple[Tender, list[Lot]]:
        async with self.session.begin():
            tender, lots = await TenderRepository(self.session).with_lots(tender_id)
        if tender.status != "draft":
            # Detached copies: a later rollback in any session must not expire (and so
            # break) the objects every request shares.
            for row in (tender, *lots):
                self.session.expunge(row)
            _TERMS[tender_id] = (tender, lots)
        return tender, lots

    async def locked_tender(self, tender_id: uuid.UUID) -> Tender:
        """FOR SHARE: enrollments proceed side by side, but an early closure waits."""
        query = select(Tender).where(col(Tender.id) == tender_id).with_for_update(read=True)
        tender = (await self.session.execute(query)).scalar_one_or_none()
        if tender is None:
            raise NotFound(f"Tender {tender_id} does not exist.")
        return tender

    async def insert_new(self, enrollment: Enrollment) -> bool:
        """INSERT unless (tender, municipality) exists; False when it does. On PostgreSQL
        a concurrent uncommitted twin makes this wait for it, then do nothing."""
        dialect = self.session.bind.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(ENROLLMENTS).on_conflict_do_nothing(
                index_elements=["tender_id", "municipality_oin"]
            )
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(ENROLLMENTS).on_conflict_do_nothing(
                index_elements=["tender_id", "municipality_oin"]
            )
        else:  # pragma: no cover - other databases: the unique constraint still decides
            stmt = insert(ENROLLMENTS)
        # Core statements on the session's connection skip the ORM's execute machinery.
        conn = await self.session.connection()
        result = await conn.execute(stmt.values(**column_values(enrollment)))
        return bool(result.rowcount)

    async def insert_lines_and_mandate(self, lines: list[EnrollmentLot], mandate: Mandate) -> None:
        conn = await self.session.connection()
        await conn.execute(
            insert(EnrollmentLot.__table__),  # type: ignore[attr-defined]
            [column_values(x) for x in lines],
        )
        await conn.execute(insert(Mandate.__table__).values(**column_values(mandate)))  # type: ignore[attr-defined]

    async def replace_lines(self, enrollment: Enrollment, lines: list[EnrollmentLot]) -> None:
        await self.drop_lines(enrollment)
        self.session.add_all(lines)

    async def drop_lines(self, enrollment: Enrollment) -> None:
        await self.session.execute(
            delete(EnrollmentLot).where(col(EnrollmentLot.enrollment_id) == enrollment.id)
        )
        await self.session.flush()

    async def find(
        self, tender_id: uuid.UUID, oin: str, *, for_update: bool = False
    ) -> Enrollment | None:
        return await self.first(
            col(Enrollment.tender_id) == tender_id,
            col(Enrollment.municipality_oin) == oin,
            for_update=for_update,
        )

    async def get_in(self, tender_id: uuid.UUID, enrollment_id: uuid.UUID) -> Enrollment:
        found = await self.first(
            col(Enrollment.id) == enrollment_id, col(Enrollment.tender_id) == tender_id
        )
        if found is None:
            raise NotFound(f"Enrollment {enrollment_id} does not exist in tender {tender_id}.")
        return found

    async def merged_on(self, oin: str) -> date | None:
        """The effective date of a merger applied here that ended this municipality."""
        # The OINs are a JSON list of strings: the quoted OIN matches one whole entry.
        query = select(func.min(col(AppliedMerger.effective_date))).where(
            col(AppliedMerger.predecessor_oins).contains(f'"{oin}"', autoescape=True)
        )
        found: date | None = (await self.session.execute(query)).scalar_one_or_none()
        return found

    async def current_mandate(self, enrollment_id: uuid.UUID) -> Mandate:
        query = (
            select(Mandate)
            .where(col(Mandate.enrollment_id) == enrollment_id)
            .order_by(col(Mandate.recorded_at).desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one()

    async def mandates(self, enrollment_id: uuid.UUID) -> list[Mandate]:
        query = (
            select(Mandate)
            .where(col(Mandate.enrollment_id) == enrollment_id)
            .order_by(col(Mandate.recorded_at))
        )
        return list((await self.session.execute(query)).scalars())

    async def list_page(
        self, tender_id: uuid.UUID, params: PageParams, *, oin: str | None, status: str | None
    ) -> tuple[list[Enrollment], int]:
        """A page of the tender's enrollments, oldest first; ``oin``: only that
        municipality's."""
        query = select(Enrollment).where(col(Enrollment.tender_id) == tender_id)
        if oin is not None:
            query = query.where(col(Enrollment.municipality_oin) == oin)
        if status:
            query = query.where(col(Enrollment.status) == status)
        return await self.page(query, params, col(Enrollment.created_at), col(Enrollment.id))

    async def reload(self, enrollment_ids: list[uuid.UUID]) -> None:
        """Read these enrollments afresh into the session's instances (one query)."""
        query = (
            select(Enrollment)
            .where(col(Enrollment.id).in_(enrollment_ids))
            .execution_options(populate_existing=True)
        )
        await self.session.execute(query)

    async def lines_and_mandates(
        self, ids: list[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, list[EnrollmentLot]], dict[uuid.UUID, Mandate]]:
        """Lots and latest mandate of many enrollments: two queries, not two per row."""
        lines: dict[uuid.UUID, list[EnrollmentLot]] = {i: [] for i in ids}
        query = select(EnrollmentLot).where(col(EnrollmentLot.enrollment_id).in_(ids))
        for line in (await self.session.execute(query)).scalars():
            lines[line.enrollment_id].append(line)
        mandates: dict[uuid.UUID, Mandate] = {}
        query_m = (
            select(Mandate)
            .where(col(Mandate.enrollment_id).in_(ids))
            .order_by(col(Mandate.recorded_at))
        )
        for mandate in (await self.session.execute(query_m)).scalars():
            mandates[mandate.enrollment_id] = mandate  # the latest wins
        return lines, mandates

    async def without_details(
        self, tender_id: uuid.UUID, enrollment_ids: list[uuid.UUID] | None
    ) -> list[tuple[uuid.UUID, str]]:
        """(id, OIN) of the enrollments that lack registry details."""
        query = select(ENROLLMENTS.c.id, ENROLLMENTS.c.municipality_oin).where(
            ENROLLMENTS.c.tender_id == tender_id, ENROLLMENTS.c.municipality_id.is_(None)
        )
        if enrollment_ids is not None:
            query = query.where(ENROLLMENTS.c.id.in_(enrollment_ids))
        return [(row[0], row[1]) for row in (await self.session.execute(query)).all()]

    async def fill_details(self, details: Iterable[tuple[uuid.UUID, Any]]) -> None:
        """Set registry details (id, name, CBS code, province) where still missing."""
        t = ENROLLMENTS
        for enrollment_id, m in details:
            await self.session.execute(
                t.update()
                .where(t.c.id == enrollment_id, t.c.municipality_id.is_(None))
                .values(
                    municipality_id=m.id,
                    municipality_name=func.coalesce(t.c.municipality_name, m.name),
                    municipality_cbs_code=func.coalesce(t.c.municipality_cbs_code, m.cbs_code),
                    province=func.coalesce(t.c.province, m.province),
                )
            )
