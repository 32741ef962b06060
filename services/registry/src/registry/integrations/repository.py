"""Every query of integrations and of a municipality's landscape."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..facilities.models import Facility
from ..lookups import CatalogueLookups
from ..offerings.models import Offering, OfferingVersion
from ..organisations.models import Organisation
from ..usages.models import Usage
from .models import Integration


class IntegrationRepository(CatalogueLookups, Repository[Integration]):
    model = Integration
    label = "integration"

    async def existing(self, source: uuid.UUID, target: uuid.UUID, kind: str) -> uuid.UUID | None:
        query = select(Integration.id).where(
            Integration.source_offering_id == source,
            Integration.target_offering_id == target,
            Integration.kind == kind,
        )
        return (await self.session.execute(query)).scalars().first()

    async def list_page(
        self,
        offering_id: uuid.UUID | None,
        equal: dict[str, Any],
        params: PageParams,
    ) -> tuple[list[Integration], int]:
        """Integrations with the offering on either side, filtered by the given columns."""
        query = select(Integration).where(
            *(getattr(Integration, k) == v for k, v in equal.items() if v is not None)
        )
        if offering_id is not None:
            query = query.where(
                or_(
                    Integration.source_offering_id == offering_id,
                    Integration.target_offering_id == offering_id,
                )
            )
        return await self.page(query, params, Integration.created_at, Integration.id)

    async def used_offerings(self, municipality_id: uuid.UUID) -> Sequence[Any]:
        """The municipality's current usages that name an offering, with its supplier,
        facility and version; by facility, then offering name."""
        supplier = aliased(Organisation)
        query = (
            select(
                Offering.id.label("offering_id"),
                Offering.name.label("offering_name"),
                supplier.id.label("supplier_id"),
                supplier.name.label("supplier_name"),
                Facility.id.label("facility_id"),
                Facility.name.label("facility_name"),
                OfferingVersion.id.label("version_id"),
                OfferingVersion.version,
                Usage.id.label("usage_id"),
                Usage.status.label("usage_status"),
            )
            .join(Offering, Offering.id == Usage.offering_id)
            .join(supplier, supplier.id == Offering.supplier_id)
            .join(Facility, Facility.id == Usage.facility_id)
            .outerjoin(OfferingVersion, OfferingVersion.id == Usage.version_id)
            .where(Usage.municipality_id == municipality_id, Usage.status != "ended")
            .order_by(Facility.name, Offering.name, Usage.id)
        )
        return (await self.session.execute(query)).mappings().all()

    async def between(self, offering_ids: Collection[uuid.UUID]) -> list[Integration]:
        """Integrations not ended whose both ends are among the offerings."""
        ids = list(offering_ids)
        if not ids:
            return []
        query = (
            select(Integration)
            .where(
                Integration.status != "ended",
                Integration.source_offering_id.in_(ids),
                Integration.target_offering_id.in_(ids),
            )
            .order_by(Integration.created_at, Integration.id)
        )
        return list((await self.session.execute(query)).scalars())
