"""The demo catalogue (catalogue.json): facilities, offerings with versions and usages,
matched on natural keys so seeding twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.clock import utcnow

from ..changes.service import SYSTEM, record_change
from ..facilities.models import Facility
from ..facilities.schemas import FacilityOut
from ..offerings.models import Offering, OfferingVersion
from ..offerings.schemas import OfferingOut, VersionOut
from ..organisations.models import Organisation
from ..usages.models import Usage
from ..usages.schemas import UsageOut


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


async def organisation_by(
    session: AsyncSession, org_type: str, column: str, value: str
) -> Organisation:
    org = (
        await session.execute(
            select(Organisation).where(
                Organisation.type == org_type, getattr(Organisation, column) == value
            )
        )
    ).scalar_one()
    return org


async def seed_catalogue(
    session: AsyncSession, demo: dict[str, Any], catalogue: dict[str, Any], counts: Counts
) -> dict[str, Offering]:
    """Facilities, offerings with their versions, then usages (with the version named, if
    any); returns the offerings by their key in the file."""
    operator = await organisation_by(session, "operator", "oin", demo["operator"]["oin"])
    facilities: dict[str, Facility] = {}
    now = utcnow()
    for item in catalogue["facilities"]:
        facility = (
            await session.execute(select(Facility).where(Facility.slug == item["slug"]))
        ).scalar_one_or_none()
        if facility is not None:
            # Existing facilities keep whatever the operator changed since (and their stage).
            facilities[item["slug"]] = facility
            counts.unchanged += 1
            continue
        facility = Facility(
            slug=item["slug"], name=item["name"], description=item["description"],
            kind=item["kind"], theme=item["theme"], stage=item["stage"],
            provider_id=operator.id if item["provider"] == "operator" else None,
            links=item["links"], standards=item["standards"],
            revision=1, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(facility)
        await session.flush()
        facilities[item["slug"]] = facility
        counts.created += 1
        await record_change(
            session,
            SYSTEM,
            entity="facility",
            entity_id=facility.id,
            action="created",
            data=FacilityOut.model_validate(facility).model_dump(mode="json", by_alias=True),
        )
    offerings: dict[str, Offering] = {}
    versions: dict[tuple[str, str], OfferingVersion] = {}
    for item in catalogue["offerings"]:
        supplier = await organisation_by(session, "supplier", "kvk_number", item["supplierKvk"])
        facility = facilities[item["facility"]]
        offering = (
            await session.execute(
                select(Offering).where(
                    Offering.supplier_id == supplier.id,
                    Offering.facility_id == facility.id,
                    Offering.name == item["name"],
                )
            )
        ).scalar_one_or_none()
        if offering is None:
            offering = Offering(
                supplier_id=supplier.id, facility_id=facility.id, name=item["name"],
                description=item["description"], price_model=item["priceModel"],
                standards=item["standards"], certifications=item["certifications"],
                product_url=None, revision=1, created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(offering)
            await session.flush()
            counts.created += 1
            await record_change(
                session,
                SYSTEM,
                entity="offering",
                entity_id=offering.id,
                action="created",
                data=OfferingOut.model_validate(offering).model_dump(mode="json", by_alias=True),
            )
        else:
            counts.unchanged += 1
        offerings[item["key"]] = offering
        for v in item["versions"]:
            version = (
                await session.execute(
                    select(OfferingVersion).where(
                        OfferingVersion.offering_id == offering.id,
                        OfferingVersion.version == v["version"],
                    )
                )
            ).scalar_one_or_none()
            if version is not None:
                versions[(item["key"], v["version"])] = version
                counts.unchanged += 1
                continue
            version = OfferingVersion(
                offering_id=offering.id, version=v["version"],
                release_date=date.fromisoformat(v["releaseDate"]),
                end_of_support_date=(
                    date.fromisoformat(v["endOfSupportDate"]) if v["endOfSupportDate"] else None
                ),
                standards=[], notes="", revision=1, created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(version)
            await session.flush()
            versions[(item["key"], v["version"])] = version
            counts.created += 1
            await record_change(
                session,
                SYSTEM,
                entity="offering-version",
                entity_id=version.id,
                action="created",
                data=VersionOut.model_validate(version).model_dump(mode="json", by_alias=True),
                subject_path=f"offerings/{offering.id}/versions/{version.id}",
            )
    for item in catalogue["usages"]:
        municipality = await organisation_by(
            session, "municipality", "cbs_code", item["municipality"]
        )
        facility = facilities[item["facility"]]
        existing = (
            await session.execute(
                select(Usage.id).where(
                    Usage.municipality_id == municipality.id, Usage.facility_id == facility.id
                )
            )
        ).first()
        if existing is not None:
            counts.unchanged += 1
            continue
        usage = Usage(
            municipality_id=municipality.id, facility_id=facility.id,
            offering_id=offerings[item["offering"]].id if item["offering"] else None,
            version_id=(
                versions[(item["offering"], item["version"])].id if item.get("version") else None
            ),
            status=item["status"],
            start_date=date.fromisoformat(item["startDate"]) if item["startDate"] else None,
            contract_end_date=(
                date.fromisoformat(item["contractEndDate"]) if item["contractEndDate"] else None
            ),
            notice_period_months=item["noticePeriodMonths"],
            contract_value_band=item["contractValueBand"],
            revision=1, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(usage)
        await session.flush()
        counts.created += 1
        await record_change(
            session,
            SYSTEM,
            entity="usage",
            entity_id=usage.id,
            action="created",
            data=UsageOut.model_validate(usage).model_dump(mode="json", by_alias=True),
        )
    return offerings
