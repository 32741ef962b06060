"""Every query of mergers: the merger rows and what belongs to a predecessor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update

from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..initiatives.repository import Tie
from ..organisations.models import Organisation, OrganisationMember
from ..usages.models import Usage
from .models import MunicipalityMerger


class MergerRepository(Repository[MunicipalityMerger]):
    model = MunicipalityMerger
    label = "municipality merger"

    async def list_page(
        self, successor_id: uuid.UUID | None, params: PageParams
    ) -> tuple[list[MunicipalityMerger], int]:
        query = select(MunicipalityMerger)
        if successor_id is not None:
            query = query.where(MunicipalityMerger.successor_id == successor_id)
        return await self.page(
            query, params, MunicipalityMerger.effective_date.desc(), MunicipalityMerger.id
        )

    async def organisations(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Organisation]:
        """The organisations, locked until the merger commits (no write slips in)."""
        query = (
            select(Organisation)
            .where(Organisation.id.in_(list(ids)))
            .order_by(Organisation.id)
            .with_for_update()
        )
        return {org.id: org for org in (await self.session.execute(query)).scalars()}

    async def usages_of(self, municipality_id: uuid.UUID) -> list[Usage]:
        query = (
            select(Usage)
            .where(Usage.municipality_id == municipality_id)
            .order_by(Usage.created_at, Usage.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def ties_of(self, model: type[Tie], municipality_id: uuid.UUID) -> list[Tie]:
        query = (
            select(model)
            .where(model.municipality_id == municipality_id)
            .order_by(model.created_at, model.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def cooperations_of(self, member_id: uuid.UUID) -> list[uuid.UUID]:
        query = select(OrganisationMember.cooperation_id).where(
            OrganisationMember.member_id == member_id
        )
        return list((await self.session.execute(query)).scalars())

    async def hand_over_membership(
        self, cooperation_id: uuid.UUID, member_id: uuid.UUID, successor_id: uuid.UUID
    ) -> None:
        """The successor takes the member's place (or keeps its own, when it has one)."""
        where = (
            OrganisationMember.cooperation_id == cooperation_id,
            OrganisationMember.member_id == member_id,
        )
        already = await self.session.execute(
            select(OrganisationMember.member_id).where(
                OrganisationMember.cooperation_id == cooperation_id,
                OrganisationMember.member_id == successor_id,
            )
        )
        if already.scalar_one_or_none() is None:
            await self.session.execute(
                update(OrganisationMember).where(*where).values(member_id=successor_id)
            )
        else:
            await self.session.execute(delete(OrganisationMember).where(*where))
