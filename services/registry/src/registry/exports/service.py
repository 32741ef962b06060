"""CSV exports (usages, offerings, the radar) and the landscape in ArchiMate."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.csvfiles import models_csv

from ..contracts import ContractView
from ..integrations.service import landscape
from ..organisations.schemas import OrganisationRadarItem
from ..usages import radar
from ..usages.schemas import RadarItem
from ..usages.service import UsageFilter
from .archimate import Component, Flow, landscape_model
from .repository import ExportRepository
from .schemas import OfferingRow, UsageRow


async def usages_csv(session: AsyncSession, filters: UsageFilter, view: ContractView) -> str:
    async with session.begin():
        rows = await ExportRepository(session).usages(asdict(filters))
    return models_csv(UsageRow, (view.usage(UsageRow.model_validate(dict(row))) for row in rows))


async def offerings_csv(session: AsyncSession, equal: dict[str, Any]) -> str:
    repo = ExportRepository(session)
    async with session.begin():
        rows = await repo.offerings(equal)
        versions = await repo.version_labels([row["id"] for row in rows])
    items = (
        OfferingRow.model_validate({**row, "versions": versions.get(row["id"], [])}) for row in rows
    )
    return models_csv(OfferingRow, items)


async def facility_radar_csv(
    session: AsyncSession,
    facility_id: uuid.UUID,
    horizon: radar.Horizon,
    offering_id: uuid.UUID | None,
) -> str:
    async with session.begin():
        items, _total = await radar.facility_radar(session, facility_id, horizon, offering_id)
    return models_csv(RadarItem, items)


async def organisation_radar_csv(
    session: AsyncSession, organisation_id: uuid.UUID, horizon: radar.Horizon
) -> str:
    async with session.begin():
        items = await radar.organisation_radar(session, organisation_id, horizon)
    return models_csv(OrganisationRadarItem, items)


async def landscape_xml(session: AsyncSession, organisation_id: uuid.UUID) -> bytes:
    """The municipality's landscape (offerings in use and the integrations between them,
    :func:`registry.integrations.service.landscape`) in ArchiMate's exchange format."""
    async with session.begin():
        municipality = await ExportRepository(session).organisation(organisation_id)
        found = await landscape(session, organisation_id)  # 404 or 400 when it has none
        assert municipality is not None
    components: dict[uuid.UUID, Component] = {}
    for used in found.offerings:
        component = components.setdefault(
            used.offering_id,
            Component(
                id=used.offering_id,
                name=used.offering_name,
                properties={"facility": used.facility_name, "supplier": used.supplier_name,
                            "version": "", "status": used.usage_status},
            ),
        )  # fmt: skip
        versions = [v for v in component.properties["version"].split(", ") if v]
        if used.version and used.version not in versions:
            component.properties["version"] = ", ".join([*versions, used.version])
    flows = []
    for link in found.integrations:
        name = " ".join([link.kind, *link.standards])
        flows.append(Flow(f"{link.id}", link.source_offering_id, link.target_offering_id, name))
        if link.direction == "two-way":
            flows.append(
                Flow(f"{link.id}-back", link.target_offering_id, link.source_offering_id, name)
            )
    return landscape_model(municipality.id, municipality.name, list(components.values()), flows)
