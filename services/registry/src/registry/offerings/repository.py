"""Every query of offerings and their versions."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from servicekit.errors import NotFound
from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..auth import SUPPLIER
from ..common import table_reader
from ..facilities.models import Facility
from ..organisations.models import Organisation
from .models import Offering, OfferingVersion

READER = table_reader(
    Offering.__table__,
    "offering",
    counted=True,
    order_by=("name", "id"),
    text_columns=("name", "description"),
)


class OfferingRepository(Repository[Offering]):
    model = Offering
    label = "offering"

    async def organisation(self, organisation_id: uuid.UUID) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def supplier_by_kvk(self, kvk_number: str) -> Organisation | None:
        query = select(Organisation).where(
            Organisation.type == SUPPLIER, Organisation.kvk_number == kvk_number
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def facility_exists(self, facility_id: uuid.UUID) -> bool:
        return await self.session.get(Facility, facility_id) is not None

    async def version_named(self, offering_id: uuid.UUID, version: str) -> uuid.UUID | None:
        query = select(OfferingVersion.id).where(
            OfferingVersion.offering_id == offering_id, OfferingVersion.version == version
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def version(
        self, offering_id: uuid.UUID, version_id: uuid.UUID, *, for_update: bool = False
    ) -> OfferingVersion:
        query = select(OfferingVersion).where(
            OfferingVersion.id == version_id, OfferingVersion.offering_id == offering_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"No version {version_id} of offering {offering_id}.")
        return row

    async def versions(
        self, offering_id: uuid.UUID, params: PageParams
    ) -> tuple[list[OfferingVersion], int]:
        query = select(OfferingVersion).where(OfferingVersion.offering_id == offering_id)
        return await self.page(
            query, params, OfferingVersion.release_date.desc(), OfferingVersion.version
        )
