"""Every query of vulnerabilities, their affected versions and exposures."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select

from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..lookups import CatalogueLookups
from ..offerings.models import OfferingVersion
from ..organisations.models import Organisation
from ..usages.models import Usage
from .models import AffectedVersion, Vulnerability


class VulnerabilityRepository(CatalogueLookups, Repository[Vulnerability]):
    model = Vulnerability
    label = "vulnerability"

    async def municipality_by_oin(self, oin: str) -> Organisation | None:
        """The municipality a token acts for."""
        query = select(Organisation).where(
            Organisation.type == "municipality", Organisation.oin == oin
        )
        return (await self.session.execute(query)).scalars().first()

    async def published_cve(self, offering_id: uuid.UUID, cve_id: str) -> uuid.UUID | None:
        query = select(Vulnerability.id).where(
            Vulnerability.offering_id == offering_id,
            Vulnerability.cve_id == cve_id,
            Vulnerability.status == "published",
        )
        return (await self.session.execute(query)).scalars().first()

    async def version_labels(
        self, offering_id: uuid.UUID, version_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """Of the given ids, those that are versions of the offering, with their labels."""
        query = select(OfferingVersion.id, OfferingVersion.version).where(
            OfferingVersion.offering_id == offering_id, OfferingVersion.id.in_(list(version_ids))
        )
        return {row.id: row.version for row in (await self.session.execute(query)).all()}

    async def affected(
        self, vulnerability_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
        """(version id, label) per vulnerability, in version-label order."""
        query = (
            select(AffectedVersion.vulnerability_id, OfferingVersion.id, OfferingVersion.version)
            .join(OfferingVersion, OfferingVersion.id == AffectedVersion.version_id)
            .where(AffectedVersion.vulnerability_id.in_(list(vulnerability_ids)))
            .order_by(OfferingVersion.version)
        )
        found: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {v: [] for v in vulnerability_ids}
        for row in (await self.session.execute(query)).all():
            found[row.vulnerability_id].append((row.id, row.version))
        return found

    async def set_affected(
        self, vulnerability_id: uuid.UUID, version_ids: Sequence[uuid.UUID]
    ) -> None:
        await self.session.execute(
            delete(AffectedVersion).where(AffectedVersion.vulnerability_id == vulnerability_id)
        )
        await self.session.execute(
            insert(AffectedVersion),
            [{"vulnerability_id": vulnerability_id, "version_id": v} for v in version_ids],
        )

    async def list_page(
        self, equal: dict[str, Any], params: PageParams
    ) -> tuple[list[Vulnerability], int]:
        conditions = [getattr(Vulnerability, k) == v for k, v in equal.items() if v is not None]
        query = select(Vulnerability).where(*conditions)
        return await self.page(query, params, Vulnerability.created_at.desc(), Vulnerability.id)

    async def exposures(
        self,
        *,
        vulnerability_id: uuid.UUID | None = None,
        municipality_id: uuid.UUID | None = None,
        usage_id: uuid.UUID | None = None,
    ) -> Sequence[Any]:
        """Current usages of affected versions of published vulnerabilities, for one
        vulnerability, municipality and/or usage; most severe first, then by name."""
        query = (
            select(
                Vulnerability.id.label("vulnerability_id"),
                Vulnerability.cve_id,
                Vulnerability.cvss_score,
                Vulnerability.fixed_in_version,
                Organisation.id.label("municipality_id"),
                Organisation.name.label("municipality_name"),
                Organisation.oin,
                Usage.id.label("usage_id"),
                Usage.status.label("usage_status"),
                Vulnerability.offering_id,
                OfferingVersion.id.label("version_id"),
                OfferingVersion.version,
            )
            .join(AffectedVersion, AffectedVersion.vulnerability_id == Vulnerability.id)
            .join(OfferingVersion, OfferingVersion.id == AffectedVersion.version_id)
            .join(Usage, Usage.version_id == AffectedVersion.version_id)
            .join(Organisation, Organisation.id == Usage.municipality_id)
            .where(Vulnerability.status == "published", Usage.status != "ended")
            .order_by(
                Vulnerability.cvss_score.desc(),
                Vulnerability.cve_id,
                Organisation.name,
                Usage.id,
            )
        )
        if vulnerability_id is not None:
            query = query.where(Vulnerability.id == vulnerability_id)
        if municipality_id is not None:
            query = query.where(Usage.municipality_id == municipality_id)
        if usage_id is not None:
            query = query.where(Usage.id == usage_id)
        return (await self.session.execute(query)).mappings().all()
