"""Pilot rules: municipalities join a facility's pilot while it is in stage pilot; the
operator records impact analyses; a facility moves to implementation (or beyond) only
after one whose outcome is positive or conditional."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.errors import Conflict, NotFound

from ..auth import MUNICIPALITY, require_operator
from ..changes.service import record_change
from ..initiatives.models import OPEN_STAGES
from ..initiatives.repository import add
from ..initiatives.service import facility_of, org_ref, organisation_of, require_staff
from ..organisations.models import Organisation
from . import repository
from .models import ImpactAnalysis, PilotParticipation
from .schemas import ImpactAnalysisCreate, ImpactAnalysisOut, ParticipantCreate, ParticipantOut

# Outcomes of the latest impact analysis that let a facility move to implementation.
GO = ("positive", "conditional")
GATED_STAGES = ("implementation", "operational")


def participant_out(row: PilotParticipation, org: Organisation) -> ParticipantOut:
    return ParticipantOut(
        id=row.id, facility_id=row.facility_id, municipality=org_ref(org), created_at=row.created_at
    )


async def join(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, body: ParticipantCreate
) -> ParticipantOut:
    async with session.begin():
        facility = await facility_of(session, facility_id)
        municipality = await organisation_of(
            session, body.municipality_id, "municipalityId", (MUNICIPALITY,)
        )
        require_staff(principal, municipality, (MUNICIPALITY,))
        if facility.stage != "pilot":
            raise Conflict(
                f"Municipalities join a pilot while the facility is in stage pilot; this one "
                f"is {facility.stage}.",
                slug="not-in-pilot",
                extra={"currentStage": facility.stage},
            )
        existing = await repository.participation_of(session, facility_id, municipality.id)
        if existing is not None:
            raise Conflict(
                "The municipality already takes part in this pilot.",
                slug="duplicate",
                extra={"existingId": str(existing.id)},
            )
        row = PilotParticipation(
            facility_id=facility_id, municipality_id=municipality.id, created_at=utcnow()
        )
        await add(session, row, "The municipality already takes part in this pilot.")
        out = participant_out(row, municipality)
        await record_change(
            session,
            Actor.of(principal),
            entity="pilot-participant",
            entity_id=row.id,
            action="joined",
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=f"facilities/{facility_id}/pilot-participants/{row.id}",
        )
    return out


async def leave(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, participant_id: uuid.UUID
) -> None:
    async with session.begin():
        row = await repository.participation(session, facility_id, participant_id)
        if row is None:
            raise NotFound(f"No pilot participant {participant_id} for facility {facility_id}.")
        municipality = await organisation_of(
            session, row.municipality_id, "municipalityId", (MUNICIPALITY,)
        )
        require_staff(principal, municipality, (MUNICIPALITY,))
        out = participant_out(row, municipality)
        await repository.delete_participation(session, row)
        await record_change(
            session,
            Actor.of(principal),
            entity="pilot-participant",
            entity_id=participant_id,
            action="left",
            data=out.model_dump(mode="json", by_alias=True),
            subject_path=f"facilities/{facility_id}/pilot-participants/{participant_id}",
        )


async def list_participants(
    session: AsyncSession, facility_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[ParticipantOut], int]:
    await facility_of(session, facility_id)
    rows, total = await repository.participants_page(session, facility_id, offset, limit)
    return [participant_out(p, org) for p, org in rows], total


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


async def list_analyses(session: AsyncSession, facility_id: uuid.UUID) -> list[ImpactAnalysisOut]:
    await facility_of(session, facility_id)
    return [analysis_out(row) for row in await repository.analyses(session, facility_id)]


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
