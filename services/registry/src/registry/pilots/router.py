"""HTTP for a facility's pilot participants and impact analyses."""

from __future__ import annotations

from servicekit.http import json_router
from servicekit.routes import Routes

from ..auth import Reader, Writer
from ..common import FacilityId, ParticipantId
from . import service
from .schemas import ImpactAnalysisCreate, ImpactAnalysisOut, ParticipantCreate, ParticipantOut

router = json_router("initiatives")


participants = Routes(
    router,
    "/v1/facilities/{facilityId}/pilot-participants/{participantId}",
    ParticipantOut,
    FacilityId,
    ParticipantId,
    readers=Reader,
    writers=Writer,
)
participants.page(
    service.list_participants,
    "listPilotParticipants",
    "Municipalities taking part in a facility's pilot",
)
participants.create(
    service.join,
    ParticipantCreate,
    "joinPilot",
    "Take part in a facility's pilot (staff of the municipality; stage pilot)",
)
participants.delete(
    service.leave,
    "leavePilot",
    "Leave a facility's pilot (staff of the municipality)",
    errors=(),
    conditional=False,
)


analyses = Routes(
    router,
    "/v1/facilities/{facilityId}/impact-analyses",
    ImpactAnalysisOut,
    FacilityId,
    readers=Reader,
    writers=Writer,
)
analyses.page(
    service.list_analyses,
    "listImpactAnalyses",
    "A facility's recorded impact analyses, oldest first (the latest one counts)",
)
analyses.create(
    service.record_analysis,
    ImpactAnalysisCreate,
    "recordImpactAnalysis",
    "Record an impact analysis and its outcome (platform operator); a positive or "
    "conditional outcome lets the facility move to implementation",
)
