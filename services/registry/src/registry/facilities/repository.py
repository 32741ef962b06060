"""Every query of facilities and their stage transitions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from servicekit.pagination import PageParams
from servicekit.repository import Repository

from ..common import table_reader
from ..initiatives.models import Pledge
from ..offerings.models import Offering
from ..organisations.models import Organisation
from ..pilots.models import ImpactAnalysis, PilotParticipation
from ..usages.models import Usage
from .models import Facility, StageTransition

READER = table_reader(
    Facility.__table__,
    "facility",
    order_by=("name", "id"),
    text_columns=("name", "description", "slug"),
)
BLOCKERS_SHOWN = 100


@dataclass(frozen=True)
class Blockers:
    usages: Sequence[Any]
    offerings: list[uuid.UUID]
    pledges: list[uuid.UUID]
    pilot_participants: list[uuid.UUID]
    impact_analyses: list[uuid.UUID]

    def __bool__(self) -> bool:
        return any((self.usages, self.offerings, self.pledges, self.pilot_participants,
                    self.impact_analyses))  # fmt: skip


class FacilityRepository(Repository[Facility]):
    model = Facility
    label = "facility"

    async def slug_taken(self, slug: str, own_id: uuid.UUID | None) -> uuid.UUID | None:
        """The id of another facility with this slug, if any."""
        query = select(Facility.id).where(Facility.slug == slug)
        if own_id is not None:
            query = query.where(Facility.id != own_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def organisation(self, organisation_id: uuid.UUID) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def blockers(self, facility_id: uuid.UUID) -> Blockers:
        """What a deletion would destroy, a few of each: usages (id, municipality, status),
        offerings, and the municipalities' commitments (pledges, pilot participations)
        and impact analyses."""
        usages = (
            await self.session.execute(
                select(Usage.id, Usage.municipality_id, Usage.status)
                .where(Usage.facility_id == facility_id)
                .order_by(Usage.id)
                .limit(BLOCKERS_SHOWN)
            )
        ).all()

        async def ids(column: Any, of_facility: Any) -> list[uuid.UUID]:
            query = select(column).where(of_facility == facility_id).limit(BLOCKERS_SHOWN)
            return list((await self.session.execute(query)).scalars())

        return Blockers(
            usages=usages,
            offerings=await ids(Offering.id, Offering.facility_id),
            pledges=await ids(Pledge.id, Pledge.facility_id),
            pilot_participants=await ids(PilotParticipation.id, PilotParticipation.facility_id),
            impact_analyses=await ids(ImpactAnalysis.id, ImpactAnalysis.facility_id),
        )

    async def remove(self, facility: Facility) -> None:
        await self.session.execute(
            delete(StageTransition).where(StageTransition.facility_id == facility.id)
        )
        await self.session.delete(facility)

    async def move_stage(
        self, facility: Facility, from_stage: str, to_stage: str, now: datetime
    ) -> bool:
        """Compare-and-set on the stage: False when it changed meanwhile (a concurrent
        move loses here even where the row lock is a no-op; SQLite serialises writers)."""
        result = await self.session.execute(
            update(Facility)
            .where(Facility.id == facility.id, Facility.stage == from_stage)
            .values(stage=to_stage, revision=Facility.revision + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return getattr(result, "rowcount", 1) == 1

    async def add_transition(self, transition: StageTransition, facility: Facility) -> None:
        self.session.add(transition)
        await self.session.flush()
        await self.session.refresh(facility)

    async def transitions(
        self, facility_id: uuid.UUID, params: PageParams
    ) -> tuple[list[StageTransition], int]:
        query = select(StageTransition).where(StageTransition.facility_id == facility_id)
        return await self.page(query, params, StageTransition.at, StageTransition.id)

    async def transition(
        self, facility_id: uuid.UUID, transition_id: uuid.UUID
    ) -> StageTransition | None:
        query = select(StageTransition).where(
            StageTransition.facility_id == facility_id, StageTransition.id == transition_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()
