"""CSV exports (usages, offerings, the radar) and the landscape in ArchiMate."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.csvfiles import models_csv
from servicekit.errors import BadRequest, NotFound

from ..auth import MUNICIPALITY
from ..durations import DateDuration
from ..organisations.schemas import OrganisationRadarItem
from ..usages import radar
from ..usages.schemas import RadarItem
from .archimate import Component, landscape_model
from .repository import ExportRepository
from .schemas import OfferingRow, UsageRow


async def usages_csv(session: AsyncSession, equal: dict[str, Any]) -> str:
    async with session.begin():
        rows = await ExportRepository(session).usages(equal)
    return models_csv(UsageRow, (UsageRow.model_validate(dict(row)) for row in rows))


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
    within: DateDuration,
    today: date,
    offering_id: uuid.UUID | None,
) -> str:
    async with session.begin():
        items, _total = await radar.facility_radar(session, facility_id, within, today, offering_id)
    return models_csv(RadarItem, items)


async def organisation_radar_csv(
    session: AsyncSession, organisation_id: uuid.UUID, within: DateDuration, today: date
) -> str:
    async with session.begin():
        items = await radar.organisation_radar(session, organisation_id, within, today)
    return models_csv(OrganisationRadarItem, items)


async def landscape_xml(session: AsyncSession, organisation_id: uuid.UUID) -> bytes:
    repo = ExportRepository(session)
    async with session.begin():
        municipality = await repo.organisation(organisation_id)
        if municipality is None:
            raise NotFound(f"No organisation with id {organisation_id}.")
        if municipality.type != MUNICIPALITY:
            raise BadRequest(
                "A landscape is a municipality's.",
                invalid_params=[{"name": "organisationId", "reason": "not a municipality"}],
            )
        rows = await repo.landscape(organisation_id)
    components: dict[uuid.UUID, Component] = {}
    for row in rows:
        component = components.get(row.id)
        if component is None:
            components[row.id] = Component(
                id=row.id,
                name=row.name,
                description=row.description,
                properties={
                    "facility": row.facility_name,
                    "supplier": row.supplier_name,
                    "version": row.version or "",
                    "status": row.status,
                    "contractEndDate": row.contract_end_date.isoformat()
                    if row.contract_end_date
                    else "",
                    "standards": ", ".join(row.standards or []),
                },
            )
        elif row.version and row.version not in component.properties["version"].split(", "):
            versions = [v for v in (component.properties["version"], row.version) if v]
            component.properties["version"] = ", ".join(versions)
    return landscape_model(municipality.id, municipality.name, list(components.values()))
