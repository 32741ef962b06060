"""The queries of the exports: whole lists with the names people read beside the ids."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..facilities.models import Facility
from ..lookups import CatalogueLookups
from ..offerings.models import Offering, OfferingVersion
from ..organisations.models import Organisation
from ..usages.models import Usage

MUNICIPALITY = aliased(Organisation)
SUPPLIER = aliased(Organisation)


class ExportRepository(CatalogueLookups):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _matching(
        self, query: Select[Any], table: Any, equal: dict[str, Any]
    ) -> Sequence[Any]:
        """The rows of ``query`` whose ``table`` columns have every given value (None: no
        condition)."""
        chosen = [table.c[name] == value for name, value in equal.items() if value is not None]
        return (await self.session.execute(query.where(*chosen))).mappings().all()

    async def usages(self, equal: dict[str, Any]) -> Sequence[Any]:
        """Usages matching every given column value (None: no condition), with the
        municipality's, facility's and offering's names and the version label."""
        query = (
            select(
                *Usage.__table__.c,
                MUNICIPALITY.name.label("municipality_name"),
                Facility.name.label("facility_name"),
                Offering.name.label("offering_name"),
                OfferingVersion.version.label("version"),
            )
            .join(MUNICIPALITY, MUNICIPALITY.id == Usage.municipality_id)
            .join(Facility, Facility.id == Usage.facility_id)
            .outerjoin(Offering, Offering.id == Usage.offering_id)
            .outerjoin(OfferingVersion, OfferingVersion.id == Usage.version_id)
            .order_by(MUNICIPALITY.name, Facility.name, Usage.created_at, Usage.id)
        )
        return await self._matching(query, Usage.__table__, equal)

    async def offerings(self, equal: dict[str, Any]) -> Sequence[Any]:
        query = (
            select(
                *Offering.__table__.c,
                SUPPLIER.name.label("supplier_name"),
                Facility.name.label("facility_name"),
            )
            .join(SUPPLIER, SUPPLIER.id == Offering.supplier_id)
            .join(Facility, Facility.id == Offering.facility_id)
            .order_by(Offering.name, Offering.id)
        )
        return await self._matching(query, Offering.__table__, equal)

    async def version_labels(self, offering_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        labels: dict[uuid.UUID, list[str]] = {}
        if not offering_ids:
            return labels
        query = (
            select(OfferingVersion.offering_id, OfferingVersion.version)
            .where(OfferingVersion.offering_id.in_(offering_ids))
            .order_by(OfferingVersion.offering_id, OfferingVersion.release_date)
        )
        for offering_id, label in await self.session.execute(query):
            labels.setdefault(offering_id, []).append(label)
        return labels
