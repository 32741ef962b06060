"""Webhook subscription rules without HTTP: only callers acting for an organisation
subscribe; another organisation's subscription does not exist for them (404, not 403)
while the operator sees every one; changes need the current ETag; a new subscription
starts after the latest event; its changes are in the history, never on the public feed
(service functions on a real session)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from registry.config import Settings
from registry.db import event_outbox
from registry.webhooks import service
from registry.webhooks.schemas import SubscriptionCreate, SubscriptionPatch
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import BadRequest, Forbidden, NotFound, PreconditionFailed
from servicekit.http import IfMatch
from servicekit.pagination import PageParams

SETTINGS = Settings(environment="test")
UTRECHT = Principal(subject="civil-servant", org_id="00000001001234567000",
                    org_type="municipality")  # fmt: skip
SUPPLIER = Principal(subject="supplier-staff", org_id="90000001", org_type="supplier")
OPERATOR = Principal(subject="vng-admin", org_id="00000001009876543000", org_type="operator")
PAGE = PageParams(page=1, page_size=20)


async def _subscribe(
    db: Database, principal: Principal, url: str = "https://rp.test/hook", settings: Any = SETTINGS
) -> Any:
    async with db.sessionmaker() as session:
        return await service.create_subscription(
            session, principal, SubscriptionCreate(url=url), settings
        )


async def _latest_event(db: Database) -> int | None:
    async with db.sessionmaker() as session:
        query = select(func.max(event_outbox.c.sequence))
        return (await session.execute(query)).scalar_one()


async def test_a_subscription_is_its_organisations_alone(
    client: httpx.AsyncClient, registry_db: Database,
) -> None:  # fmt: skip
    with pytest.raises(Forbidden):
        await _subscribe(
            registry_db, Principal(subject="reader", scopes=frozenset({"registry:read"}))
        )
    with pytest.raises(BadRequest):  # plain http only outside production
        await _subscribe(
            registry_db, UTRECHT, "http://rp.test/hook", Settings(environment="production")
        )
    mine, etag = await _subscribe(registry_db, UTRECHT)
    assert (mine.owner_organisation, mine.secret.startswith("whsec_")) == (UTRECHT.org_id, True)
    theirs, _ = await _subscribe(registry_db, SUPPLIER)

    async def call(function: Any, *args: Any) -> Any:
        async with registry_db.sessionmaker() as session:
            return await function(session, *args)

    patch, stale = SubscriptionPatch(active=False), IfMatch(etag)
    for function, args in (
        (service.get_subscription, ()),
        (service.update_subscription, (patch, stale, SETTINGS)),
        (service.delete_subscription, ()),
        (service.list_deliveries, (PAGE,)),
    ):
        with pytest.raises(NotFound):
            await call(function, SUPPLIER, mine.id, *args)
    own, total = await call(service.list_subscriptions, UTRECHT, PAGE)
    assert ([s.id for s in own], total) == ([mine.id], 1)
    every, total = await call(service.list_subscriptions, OPERATOR, PAGE)
    assert ({s.id for s in every}, total) == ({mine.id, theirs.id}, 2)
    seen, _ = await call(service.get_subscription, OPERATOR, mine.id)
    assert (seen.id, seen.active) == (mine.id, True)  # untouched by the others


async def test_changes_need_the_etag_and_stay_off_the_public_feed(
    client: httpx.AsyncClient, registry_db: Database, make_facility: Any, history: Any,
) -> None:  # fmt: skip
    await make_facility()  # an event before the subscription
    latest = await _latest_event(registry_db)
    sub, etag = await _subscribe(registry_db, UTRECHT)
    assert latest is not None
    assert sub.cursor == latest  # delivers changes from now on; the past is in the feed

    async def update(patch: SubscriptionPatch, if_match: str) -> Any:
        async with registry_db.sessionmaker() as session:
            return await service.update_subscription(
                session, UTRECHT, sub.id, patch, IfMatch(if_match), SETTINGS
            )

    with pytest.raises(PreconditionFailed):
        await update(SubscriptionPatch(active=False), '"stale"')
    paused, new_etag = await update(SubscriptionPatch(active=False,
        event_types=["nl.samen.registry.facility."]), etag)  # fmt: skip
    assert (paused.active, paused.event_types, new_etag != etag) == (
        False, ["nl.samen.registry.facility."], True)  # fmt: skip
    async with registry_db.sessionmaker() as session:
        await service.delete_subscription(session, UTRECHT, sub.id)
    async with registry_db.sessionmaker() as session:
        with pytest.raises(NotFound):
            await service.get_subscription(session, OPERATOR, sub.id)
    assert [action for action, _ in await history(sub.id)] == ["created", "updated", "deleted"]
    assert await _latest_event(registry_db) == latest
