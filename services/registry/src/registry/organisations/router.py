"""HTTP for /v1/organisations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from servicekit.http import json_router
from servicekit.routes import Routes

from ..auth import PublicReader, Writer
from ..common import OrganisationId
from . import service
from .schemas import OrganisationCreate, OrganisationOut, OrganisationPatch, OrganisationType

router = json_router("organisations")


async def organisation_filter(
    type: Annotated[OrganisationType | None, Query(description="Organisation type")] = None,
    oin: Annotated[str | None, Query(pattern=r"^[0-9]{20}$", description="OIN (20 digits)")] = None,
    kvk_number: Annotated[
        str | None, Query(alias="kvkNumber", pattern=r"^[0-9]{8}$", description="KvK number")
    ] = None,
    cbs_code: Annotated[
        str | None, Query(alias="cbsCode", pattern=r"^GM[0-9]{4}$", description="CBS code")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Name contains")
    ] = None,
    ended: Annotated[
        bool | None, Query(description="Only organisations ended by a merger (or only not)")
    ] = None,
) -> service.OrganisationFilter:
    return service.OrganisationFilter(
        type=type, oin=oin, kvk_number=kvk_number, cbs_code=cbs_code, q=q, ended=ended
    )


organisations = Routes(
    router,
    "/v1/organisations/{organisationId}",
    OrganisationOut,
    OrganisationId,
    readers=PublicReader,
    writers=Writer,
)
organisations.page(
    service.list_organisations,
    "listOrganisations",
    "List organisations",
    description="Municipalities, suppliers, cooperations and the platform operator, "
    "filtered by type and identifier; `q` searches the name. Municipalities ended by a "
    "merger are listed too, with `endedOn` and `successorId` (`ended=false` leaves them "
    "out).",
    filters=Annotated[service.OrganisationFilter, Depends(organisation_filter)],
)
organisations.create(
    service.create_organisation,
    OrganisationCreate,
    "createOrganisation",
    "Register an organisation (platform operator)",
)
organisations.read(service.get_organisation, "getOrganisation", "Read an organisation")
organisations.change(
    service.update_organisation,
    OrganisationPatch,
    "updateOrganisation",
    "Change an organisation (platform operator; needs If-Match)",
    errors=(409, 412, 428),
)
