"""Rows of other domains that a domain's rules read by id: the supplier owning an
offering, the municipality a usage is of, the version it runs."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from .facilities.models import Facility
from .offerings.models import Offering, OfferingVersion
from .organisations.models import Organisation


class CatalogueLookups:
    """Mixed into a domain's repository (anything with a ``session``)."""

    session: AsyncSession

    async def organisation(
        self, organisation_id: uuid.UUID, *, lock: bool = False
    ) -> Organisation | None:
        return await self.session.get(
            Organisation, organisation_id, with_for_update=True if lock else None
        )

    async def facility(self, facility_id: uuid.UUID) -> Facility | None:
        return await self.session.get(Facility, facility_id)

    async def offering(self, offering_id: uuid.UUID) -> Offering | None:
        return await self.session.get(Offering, offering_id)

    async def version(self, version_id: uuid.UUID) -> OfferingVersion | None:
        return await self.session.get(OfferingVersion, version_id)
