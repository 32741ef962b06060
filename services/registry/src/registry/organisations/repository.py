"""Every query of organisations and cooperation memberships."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, or_, select

from servicekit.pagination import PageParams
from servicekit.repository import Repository

from .models import Organisation, OrganisationMember


class OrganisationRepository(Repository[Organisation]):
    model = Organisation
    label = "organisation"

    async def member_ids(
        self, cooperation_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        ids = list(cooperation_ids)
        members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        if not ids:
            return members
        rows = await self.session.execute(
            select(OrganisationMember.cooperation_id, OrganisationMember.member_id)
            .where(OrganisationMember.cooperation_id.in_(ids))
            .order_by(OrganisationMember.cooperation_id, OrganisationMember.member_id)
        )
        for cooperation_id, member_id in rows:
            members[cooperation_id].append(member_id)
        return members

    async def list_page(self, filters: Any, params: PageParams) -> tuple[list[Organisation], int]:
        query = select(Organisation)
        for field in ("type", "oin", "kvk_number", "cbs_code"):
            value = getattr(filters, field)
            if value:
                query = query.where(getattr(Organisation, field) == value)
        if filters.ended is not None:
            ended = Organisation.ended_on.is_not(None)
            query = query.where(ended if filters.ended else ~ended)
        if filters.q:
            query = query.where(
                or_(
                    func.lower(Organisation.name).contains(filters.q.lower(), autoescape=True),
                    Organisation.cbs_code == filters.q.upper(),
                )
            )
        return await self.page(query, params, Organisation.name, Organisation.id)

    async def municipality_id_of(self, oin: str) -> uuid.UUID | None:
        """The id of the municipality with this OIN, if any."""
        found = await self.session.scalar(
            select(Organisation.id).where(
                Organisation.oin == oin, Organisation.type == "municipality"
            )
        )
        return found

    async def holder_of(
        self, org_type: str, field: str, value: str, own_id: uuid.UUID | None
    ) -> uuid.UUID | None:
        """Another organisation of this type with this identifier, if any."""
        column = getattr(Organisation, field)
        query = select(Organisation.id).where(Organisation.type == org_type, column == value)
        if own_id is not None:
            query = query.where(Organisation.id != own_id)
        return (await self.session.execute(query.limit(1))).scalar_one_or_none()

    async def types_of(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, bool]]:
        """Each organisation's type and whether a merger ended it."""
        query = select(Organisation.id, Organisation.type, Organisation.ended_on).where(
            Organisation.id.in_(ids)
        )
        rows = (await self.session.execute(query)).tuples().all()
        return {id_: (type_, ended is not None) for id_, type_, ended in rows}

    async def set_members(self, cooperation_id: uuid.UUID, member_ids: list[uuid.UUID]) -> None:
        await self.session.execute(
            delete(OrganisationMember).where(OrganisationMember.cooperation_id == cooperation_id)
        )
        self.add_members(cooperation_id, member_ids)

    def add_members(self, cooperation_id: uuid.UUID, member_ids: list[uuid.UUID]) -> None:
        for member_id in member_ids:
            self.session.add(OrganisationMember(cooperation_id=cooperation_id, member_id=member_id))

    async def find_by_identifier(
        self, org_type: str, field: str, value: str
    ) -> Organisation | None:
        column = getattr(Organisation, field)
        return await self.first(Organisation.type == org_type, column == value)
