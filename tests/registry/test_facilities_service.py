"""Facility rules without HTTP: conditional update (If-Match), unique slugs, forward-only
stages and the history they leave (service functions on a real session)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from registry.changes.models import HistoryEntry
from registry.facilities import service
from registry.facilities.schemas import FacilityCreate, FacilityPatch, StageTransitionCreate
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import Conflict, Forbidden, PreconditionFailed, PreconditionRequired
from servicekit.http import IfMatch
from servicekit.pagination import PageParams

ACTOR = Principal(subject="operator-staff", org_id="00000001009876543000", org_type="operator")


async def _create(database: Database, slug: str = "ggi-netwerk") -> Any:
    body = FacilityCreate(slug=slug, name="GGI-Netwerk", kind="infrastructure", theme="network")
    async with database.sessionmaker() as session:
        return await service.create_facility(session, ACTOR, body)


async def test_update_needs_the_current_etag_and_moves_the_revision(
    client: httpx.AsyncClient, registry_db: Database
) -> None:
    facility, etag = await _create(registry_db)
    patch = FacilityPatch(name="GGI-Netwerk 2")
    async with registry_db.sessionmaker() as session:
        with pytest.raises(PreconditionRequired):
            await service.update_facility(session, ACTOR, facility.id, patch, IfMatch(None))
    async with registry_db.sessionmaker() as session:
        with pytest.raises(PreconditionFailed):
            await service.update_facility(session, ACTOR, facility.id, patch, IfMatch('"stale"'))
    async with registry_db.sessionmaker() as session:
        out, new_etag = await service.update_facility(
            session, ACTOR, facility.id, patch, IfMatch(etag)
        )
    assert out.name == "GGI-Netwerk 2"
    assert new_etag != etag
    _, read_etag = await service.get_facility(registry_db, facility.id)
    assert read_etag == new_etag
    async with registry_db.sessionmaker() as session:
        actions = (
            await session.execute(
                select(HistoryEntry.action).where(HistoryEntry.entity_id == facility.id)
            )
        ).scalars()
        assert sorted(actions) == ["created", "updated"]


async def test_slugs_are_unique_and_stages_move_forward(
    client: httpx.AsyncClient, registry_db: Database
) -> None:
    facility, _ = await _create(registry_db)
    with pytest.raises(Conflict) as taken:
        await _create(registry_db)
    assert taken.value.slug == "duplicate"
    async with registry_db.sessionmaker() as session:
        moved = await service.transition_stage(
            session, ACTOR, facility.id, StageTransitionCreate(to_stage="pilot", reason="go")
        )
    assert (moved.from_stage, moved.to_stage) == ("initiative", "pilot")
    async with registry_db.sessionmaker() as session:
        with pytest.raises(Conflict) as back:
            await service.transition_stage(
                session,
                ACTOR,
                facility.id,
                StageTransitionCreate(to_stage="initiative", reason="x"),
            )
    assert back.value.slug == "illegal-stage-transition"
    async with registry_db.sessionmaker() as session:
        items, total = await service.list_transitions(
            session, facility.id, PageParams(page=1, page_size=10)
        )
    assert total == 1
    assert items[0].to_stage == "pilot"


async def test_only_the_platform_operator_registers_facilities(registry_db: Database) -> None:
    supplier = Principal(subject="staff", org_id="00000003000000000001", org_type="supplier")
    body = FacilityCreate(slug="shared", name="Shared", kind="infrastructure", theme="network")
    async with registry_db.sessionmaker() as session:
        with pytest.raises(Forbidden):
            await service.create_facility(session, supplier, body)
