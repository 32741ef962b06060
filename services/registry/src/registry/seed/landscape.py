"""Demo vulnerabilities and integrations (landscape.json), on the offerings the catalogue
seed made; matched on natural keys (offering and CVE id; source, target and kind), so
seeding twice changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..changes.service import SYSTEM, record_out
from ..integrations.models import Integration
from ..integrations.service import to_out as integration_out
from ..offerings.models import Offering, OfferingVersion
from ..vulnerabilities.models import AffectedVersion, Vulnerability
from ..vulnerabilities.service import to_out as vulnerability_out
from .catalogue import Counts


async def _version_ids(session: AsyncSession, offering: Offering, labels: list[str]) -> list[Any]:
    rows = await session.execute(
        select(OfferingVersion.id, OfferingVersion.version).where(
            OfferingVersion.offering_id == offering.id, OfferingVersion.version.in_(labels)
        )
    )
    return [(row.id, row.version) for row in rows]


async def seed_landscape(
    session: AsyncSession, data: dict[str, Any], offerings: dict[str, Offering], counts: Counts
) -> None:
    for item in data["vulnerabilities"]:
        offering = offerings[item["offering"]]
        found = await session.execute(
            select(Vulnerability.id).where(
                Vulnerability.offering_id == offering.id, Vulnerability.cve_id == item["cveId"]
            )
        )
        if found.first() is not None:
            counts.unchanged += 1
            continue
        row = Vulnerability(
            offering_id=offering.id, cve_id=item["cveId"],
            cvss_score=Decimal(str(item["cvssScore"])), cvss_vector=item["cvssVector"],
            description=item["description"], fixed_in_version=item["fixedInVersion"],
            status="published",
        )  # fmt: skip
        session.add(row)
        await session.flush()
        versions = await _version_ids(session, offering, item["versions"])
        session.add_all(AffectedVersion(vulnerability_id=row.id, version_id=v) for v, _ in versions)
        counts.created += 1
        await record_out(
            session, SYSTEM, "vulnerability", "created", vulnerability_out(row, versions)
        )
    for item in data["integrations"]:
        source, target = offerings[item["source"]], offerings[item["target"]]
        found = await session.execute(
            select(Integration.id).where(
                Integration.source_offering_id == source.id,
                Integration.target_offering_id == target.id,
                Integration.kind == item["kind"],
            )
        )
        if found.first() is not None:
            counts.unchanged += 1
            continue
        integration = Integration(
            source_offering_id=source.id, target_offering_id=target.id, kind=item["kind"],
            standards=item["standards"], status=item["status"], direction=item["direction"],
            description=item["description"],
        )  # fmt: skip
        session.add(integration)
        await session.flush()
        counts.created += 1
        await record_out(session, SYSTEM, "integration", "created", integration_out(integration))
