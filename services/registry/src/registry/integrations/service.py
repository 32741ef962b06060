"""Rules and transactions for integrations; a municipality's landscape."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.auth import Principal
from servicekit.errors import BadRequest, Conflict
from servicekit.http import IfMatch
from servicekit.pagination import PageParams
from servicekit.repository import etag_of
from servicekit.schemas import patch_changes

from ..changes.service import record_out
from ..common import duplicate as duplicate_of
from ..offerings.models import Offering
from ..offerings.service import require_supplier_or_operator
from ..organisations.service import municipality_of
from ..usages.service import STATUS_ORDER
from .models import Integration
from .repository import IntegrationRepository
from .schemas import (
    IntegrationCreate,
    IntegrationOut,
    IntegrationPatch,
    Landscape,
    LandscapeOffering,
)


@dataclass(frozen=True)
class IntegrationFilter:
    offering_id: uuid.UUID | None = None
    kind: str | None = None
    status: str | None = None


def to_out(row: Integration) -> IntegrationOut:
    return IntegrationOut.model_validate(row)


async def _offering(repo: IntegrationRepository, offering_id: uuid.UUID, name: str) -> Offering:
    offering = await repo.offering(offering_id)
    if offering is None:
        raise BadRequest(
            "The offering does not exist.",
            invalid_params=[{"name": name, "reason": "unknown offering"}],
        )
    return offering


async def _require_source_owner(
    repo: IntegrationRepository, principal: Principal, source: Offering
) -> None:
    supplier = await repo.organisation(source.supplier_id)
    assert supplier is not None
    require_supplier_or_operator(principal, supplier)


async def create_integration(
    session: AsyncSession, principal: Principal, data: IntegrationCreate
) -> tuple[IntegrationOut, str]:
    if data.source_offering_id == data.target_offering_id:
        raise BadRequest(
            "An offering does not integrate with itself.",
            invalid_params=[{"name": "targetOfferingId", "reason": "same as sourceOfferingId"}],
        )
    repo = IntegrationRepository(session)
    duplicate = "This integration is already recorded."
    async with session.begin():
        source = await _offering(repo, data.source_offering_id, "sourceOfferingId")
        await _require_source_owner(repo, principal, source)
        await _offering(repo, data.target_offering_id, "targetOfferingId")
        existing = await repo.existing(source.id, data.target_offering_id, data.kind)
        if existing is not None:
            raise duplicate_of(duplicate, "targetOfferingId", "already recorded", existing)
        row = await repo.add(Integration(**data.model_dump()), conflict=duplicate)
        out = to_out(row)
        await record_out(session, Actor.of(principal), "integration", "created", out)
    return out, etag_of(row.id, row.revision)


async def get_integration(
    session: AsyncSession, integration_id: uuid.UUID
) -> tuple[IntegrationOut, str]:
    row = await IntegrationRepository(session).get(integration_id)
    return to_out(row), etag_of(row.id, row.revision)


async def list_integrations(
    session: AsyncSession, filters: IntegrationFilter, params: PageParams
) -> tuple[list[IntegrationOut], int]:
    rows, total = await IntegrationRepository(session).list_page(
        filters.offering_id, {"kind": filters.kind, "status": filters.status}, params
    )
    return [to_out(r) for r in rows], total


async def update_integration(
    session: AsyncSession,
    principal: Principal,
    integration_id: uuid.UUID,
    patch: IntegrationPatch,
    if_match: IfMatch,
) -> tuple[IntegrationOut, str]:
    changes = patch_changes(
        patch,
        required=("kind", "status", "direction"),
        empty={"standards": [], "description": ""},
    )
    repo = IntegrationRepository(session)
    async with session.begin():
        row = await repo.get(integration_id, for_update=True)
        source = await repo.offering(row.source_offering_id)
        assert source is not None
        await _require_source_owner(repo, principal, source)
        if_match(repo.etag(row))
        status = changes.get("status", row.status)
        if STATUS_ORDER[status] < STATUS_ORDER[row.status]:
            raise Conflict(
                f"An integration cannot go back from '{row.status}' to '{status}'.",
                slug="illegal-status-transition",
                extra={"currentStatus": row.status},
            )
        await repo.save(row, changes, conflict="This integration is already recorded.")
        out = to_out(row)
        await record_out(session, Actor.of(principal), "integration", "updated", out, changes=patch)
    return out, etag_of(row.id, row.revision)


async def landscape(session: AsyncSession, organisation_id: uuid.UUID) -> Landscape:
    """The offerings a municipality uses now (or is about to) and the integrations
    between them."""
    repo = IntegrationRepository(session)
    await municipality_of(session, organisation_id, "A landscape is a municipality's.")
    used = [
        LandscapeOffering.model_validate(dict(r))
        for r in await repo.used_offerings(organisation_id)
    ]
    integrations = await repo.between({u.offering_id for u in used})
    return Landscape(
        organisation_id=organisation_id,
        offerings=used,
        integrations=[to_out(i) for i in integrations],
    )
