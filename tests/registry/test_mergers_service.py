"""Municipal merger rules without HTTP: only the operator merges, only municipalities,
not in the future; a preview stores nothing; a merger passes usages (remembering where
they came from), folds a pledge into the successor's (strongest kind, amounts added) and
hands over cooperation places; the predecessor ends and takes no new writes (service
functions on a real session)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from registry.contracts import ContractView
from registry.initiatives.schemas import PledgeCreate
from registry.initiatives.service import list_pledges, pledge
from registry.mergers import service
from registry.mergers.schemas import MergerCreate
from registry.organisations.service import get_organisation
from registry.usages.schemas import UsageCreate
from registry.usages.service import create_usage, get_usage
from servicekit.auth import Principal
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, Forbidden
from servicekit.pagination import PageParams

OPERATOR_OIN = "00000001009876543000"
OPERATOR = Principal(subject="vng-admin", org_id=OPERATOR_OIN, org_type="operator")
OLD_OIN, NEW_OIN = "00000001001234567000", "00000001001111111000"


def staff(oin: str) -> Principal:
    return Principal(subject=f"staff-{oin[-7:]}", org_id=oin, org_type="municipality")


async def _merge(db: Database, principal: Principal, *, dry_run: bool = False, **body: Any) -> Any:
    async with db.sessionmaker() as session:
        return await service.merge(
            session, principal, MergerCreate.model_validate(body), dry_run=dry_run
        )


async def test_who_what_and_when_may_merge(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any,
) -> None:  # fmt: skip
    old, new, supplier = [
        uuid.UUID((await make_org(kind))["id"]) for kind in ("municipality",) * 2 + ("supplier",)
    ]
    today = utcnow().date().isoformat()
    with pytest.raises(Forbidden):
        await _merge(registry_db, staff(OLD_OIN), predecessorIds=[old], successorId=new,
                     effectiveDate=today)  # fmt: skip
    with pytest.raises(BadRequest) as bad:
        await _merge(registry_db, OPERATOR, predecessorIds=[old, old, new], successorId=new,
                     effectiveDate=(utcnow().date() + timedelta(days=1)).isoformat())  # fmt: skip
    assert {p["name"]: p["reason"] for p in bad.value.extra["invalidParams"]} == {
        "predecessorIds[1]": "listed twice", "predecessorIds[2]": "the successor itself",
        "effectiveDate": "in the future: record it on or after that day"}  # fmt: skip
    with pytest.raises(BadRequest) as kind:
        await _merge(registry_db, OPERATOR, predecessorIds=[supplier], successorId=new,
                     effectiveDate=today)  # fmt: skip
    assert kind.value.extra["invalidParams"] == [
        {"name": "predecessorIds[0]", "reason": "not a municipality"}]  # fmt: skip


async def test_a_merger_passes_everything_and_ends_the_predecessor(
    client: httpx.AsyncClient, registry_db: Database, make_org: Any, make_facility: Any,
    history: Any,
) -> None:  # fmt: skip
    old = uuid.UUID((await make_org("municipality", name="Oud", oin=OLD_OIN))["id"])
    new = uuid.UUID((await make_org("municipality", name="Nieuw", oin=NEW_OIN))["id"])
    coop = uuid.UUID((await make_org("cooperation", memberIds=[str(old)]))["id"])
    network, idea = [uuid.UUID((await make_facility())["id"]) for _ in range(2)]
    async with registry_db.sessionmaker() as session:
        usage, _ = await create_usage(session, staff(OLD_OIN),
                                      UsageCreate(municipality_id=old, facility_id=network))  # fmt: skip
    for oin, who, body in ((OLD_OIN, old, {"kind": "co-fund", "amount": Decimal(1000)}),
                           (NEW_OIN, new, {"kind": "interest"})):  # fmt: skip
        async with registry_db.sessionmaker() as session:
            await pledge(session, staff(oin), idea, PledgeCreate(municipality_id=who, **body))
    today = utcnow().date()  # the service's clock
    request = {"predecessorIds": [old], "successorId": new, "effectiveDate": today.isoformat()}

    preview = await _merge(registry_db, OPERATOR, dry_run=True, **request)
    assert (preview.id, preview.moves.usage_ids, preview.moves.cooperation_ids) == (
        None, [usage.id], [coop])  # fmt: skip
    async with registry_db.sessionmaker() as session:
        assert (await get_organisation(session, old))[0].ended_on is None  # nothing stored

    merger = await _merge(registry_db, OPERATOR, **request)
    assert merger.moves == preview.moves
    assert (len(merger.moves.combined_pledge_ids), merger.moves.pledge_ids) == (1, [])
    assert merger.ended_on == today - timedelta(days=1)
    async with registry_db.sessionmaker() as session:
        moved, _ = await get_usage(session, ContractView(every=True), usage.id)
        ended, _ = await get_organisation(session, old)
        cooperation, _ = await get_organisation(session, coop)
        pledges, total = await list_pledges(session, idea, PageParams(page=1, page_size=10))
    assert (moved.municipality_id, moved.inherited_from_id) == (new, old)
    assert (ended.ended_on, ended.successor_id) == (merger.ended_on, new)
    assert cooperation.member_ids == [new]
    assert total == 1
    assert (pledges[0].municipality.id, pledges[0].kind, pledges[0].amount) == (
        new, "co-fund", Decimal(1000))  # fmt: skip
    assert ("transferred", OPERATOR_OIN) in await history(usage.id)
    assert (await history(old))[-1] == ("ended", OPERATOR_OIN)

    with pytest.raises(Conflict) as closed:  # the predecessor takes no new writes
        async with registry_db.sessionmaker() as session:
            await create_usage(session, staff(OLD_OIN),
                               UsageCreate(municipality_id=old, facility_id=idea))  # fmt: skip
    assert (closed.value.slug, closed.value.extra["successorId"]) == (
        "organisation-ended",
        str(new),
    )
    with pytest.raises(Conflict):  # nor does it merge twice
        await _merge(registry_db, OPERATOR, **request)
