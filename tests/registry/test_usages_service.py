"""Usage rules without HTTP: one active usage per facility, plus planned follow-ups that do
not overlap it, and a contract with a follow-up is off the radar (tested on the service
functions with a real session)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from registry.durations import parse_duration
from registry.usages.radar import Horizon, facility_radar, organisation_radar
from registry.usages.schemas import UsageCreate
from registry.usages.service import _overlaps, create_usage
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import Conflict

Maker = Any


def test_overlap_rule() -> None:
    d = date
    # A follow-up may start on the day the current contract ends, or later.
    assert not _overlaps(d(2027, 1, 1), d(2030, 1, 1), d(2024, 1, 1), d(2027, 1, 1))
    assert not _overlaps(d(2024, 1, 1), d(2027, 1, 1), d(2027, 6, 1), None)
    assert _overlaps(d(2026, 12, 31), None, d(2024, 1, 1), d(2027, 1, 1))
    # Open ends overlap: a contract without an end date blocks any follow-up.
    assert _overlaps(d(2030, 1, 1), None, d(2024, 1, 1), None)
    assert _overlaps(None, None, None, d(2027, 1, 1))


async def _setup(
    make_org: Maker, make_facility: Maker, tokens: Any
) -> tuple[Principal, uuid.UUID, uuid.UUID]:
    utrecht = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    facility = await make_facility()
    principal = Principal(subject="civil-servant", org_id=tokens.UTRECHT_OIN,
                          org_type="municipality", scopes=frozenset({"registry:write"}))  # fmt: skip
    return principal, uuid.UUID(utrecht["id"]), uuid.UUID(facility["id"])


async def test_follow_up_next_to_the_current_usage(
    client: httpx.AsyncClient, registry_db: Database, tokens: Any, make_org: Maker,
    make_facility: Maker,
) -> None:  # fmt: skip
    principal, municipality, facility = await _setup(make_org, make_facility, tokens)

    async def create(**fields: Any) -> Any:
        body = UsageCreate(municipality_id=municipality, facility_id=facility, **fields)
        async with registry_db.sessionmaker() as session:
            return await create_usage(session, principal, body)

    await create(status="active", start_date=date(2024, 1, 1), contract_end_date=date(2027, 6, 30))
    follow_up, _ = await create(status="planned", start_date=date(2027, 6, 30),
                                contract_end_date=date(2031, 6, 30))  # fmt: skip
    assert follow_up.status == "planned"
    with pytest.raises(Conflict) as exc:  # overlaps the follow-up
        await create(status="planned", start_date=date(2031, 1, 1))
    assert exc.value.slug == "overlapping-usage"
    assert exc.value.extra["existingId"] == str(follow_up.id)
    with pytest.raises(Conflict) as exc:  # a second active one
        await create(status="active", start_date=date(2040, 1, 1))
    assert exc.value.slug == "duplicate"
    # After the follow-up: fine.
    await create(status="planned", start_date=date(2031, 6, 30), contract_end_date=date(2035, 1, 1))


async def test_concurrent_overlapping_follow_ups_create_one(
    client: httpx.AsyncClient, registry_db: Database, tokens: Any, make_org: Maker,
    make_facility: Maker,
) -> None:  # fmt: skip
    principal, municipality, facility = await _setup(make_org, make_facility, tokens)
    body = UsageCreate(municipality_id=municipality, facility_id=facility, status="planned",
                       start_date=date(2027, 7, 1), contract_end_date=date(2031, 6, 30))  # fmt: skip

    async def create() -> str:
        async with registry_db.sessionmaker() as session:
            try:
                await create_usage(session, principal, body)
            except Conflict as exc:
                return exc.slug
            return "created"

    results = await asyncio.gather(*(create() for _ in range(4)))
    assert sorted(results) == ["created", *["overlapping-usage"] * 3]


async def test_a_contract_with_a_follow_up_leaves_the_radar(
    client: httpx.AsyncClient, registry_db: Database, tokens: Any, make_org: Maker,
    make_facility: Maker,
) -> None:  # fmt: skip
    """Both radars, in every statement variant (all rows, and on PostgreSQL one ranked
    page), leave out a contract once its follow-up of the same facility is planned."""
    principal, municipality, facility = await _setup(make_org, make_facility, tokens)
    target = uuid.UUID((await make_facility(slug="doel"))["id"])  # same theme as facility
    horizon = Horizon(parse_duration("P18M"), date(2026, 12, 1))

    async def create(**fields: Any) -> uuid.UUID:
        body = UsageCreate(municipality_id=municipality, facility_id=facility, **fields)
        async with registry_db.sessionmaker() as session:
            return (await create_usage(session, principal, body))[0].id

    async def listed() -> list[list[uuid.UUID]]:
        async with registry_db.sessionmaker() as session:
            everything, _ = await facility_radar(session, target, horizon, None)
            page, total = await facility_radar(session, target, horizon, None, 0, 10)
            own = await organisation_radar(session, municipality, horizon)
        assert total == len(page)
        return [[i.usage_id for i in items] for items in (everything, page, own)]

    contract = await create(status="active", start_date=date(2023, 1, 1),
                            contract_end_date=date(2027, 6, 30), notice_period_months=6)  # fmt: skip
    assert await listed() == [[contract]] * 3
    await create(status="planned", start_date=date(2027, 6, 30),
                 contract_end_date=date(2031, 6, 30))  # fmt: skip
    assert await listed() == [[]] * 3
