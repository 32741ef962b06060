"""HTTP for /v1/offerings and their versions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from servicekit.db import DatabaseDep
from servicekit.http import json_router
from servicekit.routes import Routes

from ..auth import PublicReader, Writer
from ..common import OfferingId, VersionId, cached_page
from . import service
from .schemas import (
    OfferingCreate,
    OfferingOut,
    OfferingPatch,
    VersionCreate,
    VersionOut,
    VersionPatch,
)

router = json_router("offerings")


async def offering_filter(
    facility_id: Annotated[uuid.UUID | None, Query(alias="facilityId")] = None,
    supplier_id: Annotated[uuid.UUID | None, Query(alias="supplierId")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> service.OfferingFilter:
    return service.OfferingFilter(facility_id=facility_id, supplier_id=supplier_id, q=q)


cached_page(
    router,
    "/v1/offerings",
    OfferingOut,
    service.list_offerings,
    "listOfferings",
    "List supplier offerings",
    caller=PublicReader,
    filters=Annotated[service.OfferingFilter, Depends(offering_filter)],
)

offerings = Routes(
    router,
    "/v1/offerings/{offeringId}",
    OfferingOut,
    OfferingId,
    readers=PublicReader,
    writers=Writer,
)
offerings.create(
    service.create_offering,
    OfferingCreate,
    "createOffering",
    "Register an offering (supplier staff)",
)
offerings.read(service.get_offering, "getOffering", "Read an offering", source=DatabaseDep)
offerings.change(
    service.update_offering,
    OfferingPatch,
    "updateOffering",
    "Change an offering (supplier staff; needs If-Match)",
)


versions = Routes(
    router,
    "/v1/offerings/{offeringId}/versions/{versionId}",
    VersionOut,
    OfferingId,
    VersionId,
    readers=PublicReader,
    writers=Writer,
)
versions.page(
    service.list_versions,
    "listOfferingVersions",
    "List the versions of an offering, newest release first",
)
versions.create(
    service.create_version,
    VersionCreate,
    "createOfferingVersion",
    "Register a version of an offering (supplier staff)",
)
versions.read(service.get_version, "getOfferingVersion", "Read a version of an offering")
versions.change(
    service.update_version,
    VersionPatch,
    "updateOfferingVersion",
    "Change a version of an offering (supplier staff; needs If-Match)",
)
