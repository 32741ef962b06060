"""Pilot rules: municipalities join a facility's pilot while it is in stage pilot; the
operator records impact analyses; a facility moves to implementation (or beyond) only
after one whose outcome is positive or conditional."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import Conflict
from servicekit.pagination import PageParams

from ..auth import require_operator
from ..changes.service import record_change
from ..initiatives import ties
from ..initiatives.models import OPEN_STAGES
from ..initiatives.repository import add
from ..initiatives.ties import TieKind, facility_of
from . import repository
from .models import ImpactAnalysis, PilotParticipation
from .schemas import ImpactAnalysisCreate, ImpactAnalysisOut, ParticipantCreate, ParticipantOut

# Outcomes of the latest impact analysis that let a facility move to implementation.
GO = ("positive", "conditional")
GATED_STAGES = ("implementation", "operational")


def _closed(stage: str) -> str:
    return f"Municipalities join a pilot while the facility is in stage pilot; this one is {stage}."


PARTICIPANTS: TieKind[PilotParticipation, ParticipantOut] = TieKind(
    model=PilotParticipation,
    schema=ParticipantOut,
    entity="pilot-participant",
    collection="pilot-participants",
    stages=("pilot",),
    closed=_closed,
    closed_slug="not-in-pilot",
    duplicate="The municipality already takes part in this pilot.",
    taken="The municipality already takes part in this pilot.",
    made="joined",
    ended="left",
)


async def join(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, body: ParticipantCreate
) -> ParticipantOut:
    return await ties.make(PARTICIPANTS, session, principal, facility_id, body.municipality_id)


async def leave(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, participant_id: uuid.UUID
) -> None:
    await ties.end(PARTICIPANTS, session, principal, facility_id, participant_id)


async def list_participants(
    session: AsyncSession, facility_id: uuid.UUID, params: PageParams
) -> tuple[list[ParticipantOut], int]:
    return await ties.page(PARTICIPANTS, session, facility_id, params)


def analysis_out(row: ImpactAnalysis) -> ImpactAnalysisOut:
    return ImpactAnalysisOut.model_validate(row)


async def record_analysis(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, body: ImpactAnalysisCreate
) -> ImpactAnalysisOut:
    """The operator records an analysis while the facility is still being shaped."""
    require_operator(principal, "record impact analyses")
    async with session.begin():
        facility = await facility_of(session, facility_id, lock=True)
        if facility.stage not in OPEN_STAGES:
            raise Conflict(
                "An impact analysis is recorded before the facility moves to implementation.",
                slug="analysis-too-late",
                extra={"currentStage": facility.stage},
            )
        actor = Actor.of(principal)
        row = ImpactAnalysis(
            facility_id=facility_id,
            outcome=body.outcome,
            summary=body.summary,
            completed_on=body.completed_on,
            document_url=body.document_url,
            recorded_by=actor.subject,
            recorded_at=utcnow(),
        )
        await add(session, row, "Recorded twice.")
        out = analysis_out(row)
        await record_change(
            session,
            actor,
            entity="impact-analysis",
            entity_id=row.id,
            action="recorded",
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=f"facilities/{facility_id}/impact-analyses/{row.id}",
        )
    return out


async def list_analyses(
    session: AsyncSession, facility_id: uuid.UUID, params: PageParams
) -> tuple[Sequence[ImpactAnalysisOut], int]:
    """A facility's analyses are few: read whole, answered a page at a time."""
    await facility_of(session, facility_id)
    items = [analysis_out(row) for row in await repository.analyses(session, facility_id)]
    return params.window(items), len(items)


async def require_analysis(
    session: AsyncSession, facility_id: uuid.UUID, from_stage: str, to_stage: str
) -> None:
    """Called inside a stage transition: moving from a shaping stage to implementation or
    beyond needs a latest impact analysis with a positive or conditional outcome."""
    if from_stage not in OPEN_STAGES or to_stage not in GATED_STAGES:
        return
    outcome = await repository.latest_outcome(session, facility_id)
    if outcome not in GO:
        raise Conflict(
            "Record an impact analysis with a positive or conditional outcome before the "
            "facility moves to implementation.",
            slug="impact-analysis-required",
            extra={"latestOutcome": outcome},
        )
