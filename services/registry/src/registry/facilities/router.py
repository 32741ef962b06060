"""HTTP for /v1/facilities and their stage transitions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from servicekit.db import DatabaseDep
from servicekit.http import json_router
from servicekit.routes import Routes

from ..auth import PublicReader, Reader, Writer
from ..common import FacilityId, TransitionId, cached_page
from . import service
from .schemas import (
    FacilityCreate,
    FacilityOut,
    FacilityPatch,
    Kind,
    Stage,
    StageTransitionCreate,
    StageTransitionOut,
)

router = json_router("facilities")


async def facility_filter(
    slug: Annotated[str | None, Query(max_length=100, description="Exact slug")] = None,
    kind: Annotated[Kind | None, Query(description="Kind of facility")] = None,
    theme: Annotated[str | None, Query(max_length=100, description="Theme")] = None,
    stage: Annotated[Stage | None, Query(description="Lifecycle stage")] = None,
    provider_id: Annotated[
        uuid.UUID | None, Query(alias="providerId", description="Provider organisation")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Name or description contains")
    ] = None,
) -> service.FacilityFilter:
    return service.FacilityFilter(
        slug=slug, kind=kind, theme=theme, stage=stage, provider_id=provider_id, q=q
    )


cached_page(
    router,
    "/v1/facilities",
    FacilityOut,
    service.list_facilities,
    "listFacilities",
    "List collective facilities",
    caller=PublicReader,
    filters=Annotated[service.FacilityFilter, Depends(facility_filter)],
)

facilities = Routes(
    router,
    "/v1/facilities/{facilityId}",
    FacilityOut,
    FacilityId,
    readers=PublicReader,
    writers=Writer,
)
facilities.create(
    service.create_facility,
    FacilityCreate,
    "createFacility",
    "Register a collective facility (platform operator)",
)
facilities.read(service.get_facility, "getFacility", "Read a facility", source=DatabaseDep)
facilities.change(
    service.update_facility,
    FacilityPatch,
    "updateFacility",
    "Change a facility (platform operator; needs If-Match)",
    errors=(409, 412, 428),
)
facilities.delete(
    service.delete_facility,
    "deleteFacility",
    "Delete a facility nobody uses, offers, supports or assessed (platform operator)",
    errors=(409, 412),
)


transitions = Routes(
    router,
    "/v1/facilities/{facilityId}/stage-transitions/{transitionId}",
    StageTransitionOut,
    FacilityId,
    TransitionId,
    readers=Reader,
    writers=Writer,
)
transitions.create(
    service.transition_stage,
    StageTransitionCreate,
    "createStageTransition",
    "Move a facility forward in its lifecycle (platform operator)",
)
transitions.page(
    service.list_transitions,
    "listStageTransitions",
    "Read a facility's lifecycle history, oldest first",
)
transitions.read(service.get_transition, "getStageTransition", "Read one stage transition")
