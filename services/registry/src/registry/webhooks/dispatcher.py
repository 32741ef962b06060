"""Push the change feed to webhook subscribers: signed, in order, retried, never lost.

Each subscription has a cursor (the last event sequence it got). A delivery is a POST of
the CloudEvent (structured JSON) signed per Standard Webhooks. The cursor moves only
after a 2xx answer, in the same transaction as the delivery log row, so an event is
retried until the receiver takes it (at-least-once; receivers deduplicate on
``webhook-id`` = the event id). Failures back off exponentially (2 s, 4 s … capped),
and a subscription being worked on is leased so several service processes never
deliver to one receiver in parallel or out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update

from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.events import CloudEvent, read_events

from ..changes.service import PRIVATE_EVENT_PREFIX
from ..config import get_settings
from ..contracts import webhook_view
from ..db import event_outbox
from .models import Delivery, Subscription
from .secretbox import SecretBox, SecretUnreadable, secret_box
from .signing import sign

logger = logging.getLogger("registry.webhooks")

LEASE = timedelta(seconds=60)
BATCH = 50
MAX_ERROR = 500


def backoff_seconds(failures: int, maximum: int) -> int:
    return int(min(2 ** max(1, failures), maximum))


def wanted(event_type: str, prefixes: list[str]) -> bool:
    return not prefixes or any(event_type.startswith(p) for p in prefixes)


def addressed_to(event: CloudEvent, sub: Subscription) -> bool:
    """Events addressed to one organisation (``PRIVATE_EVENT_PREFIX``, with its id as
    ``audience``) go to that organisation's subscriptions only; the rest to everyone."""
    if not event.type.startswith(PRIVATE_EVENT_PREFIX):
        return True
    return bool(sub.owner_org) and event.data.get("audience") == sub.owner_org


class WebhookDispatcher:
    def __init__(
        self,
        database: Database,
        client: httpx.AsyncClient,
        *,
        max_backoff: int = 3600,
        clock: Callable[[], datetime] = utcnow,
        secrets: SecretBox | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.max_backoff = max_backoff
        self.clock = clock
        self.secrets = secrets or secret_box(get_settings())

    async def _due(self) -> list[Subscription]:
        now = self.clock()
        async with self.database.sessionmaker() as session:
            rows = await session.execute(
                select(Subscription)
                .where(
                    Subscription.active.is_(True),
                    or_(
                        Subscription.next_attempt_at.is_(None), Subscription.next_attempt_at <= now
                    ),
                    or_(Subscription.lease_until.is_(None), Subscription.lease_until < now),
                    Subscription.cursor
                    < select(event_outbox.c.sequence)
                    .order_by(event_outbox.c.sequence.desc())
                    .limit(1)
                    .scalar_subquery(),
                )
                .order_by(Subscription.created_at)
            )
            return list(rows.scalars())

    async def _lease(self, sub: Subscription) -> bool:
        now = self.clock()
        async with self.database.sessionmaker() as session, session.begin():
            result = await session.execute(
                update(Subscription)
                .where(
                    Subscription.id == sub.id,
                    or_(Subscription.lease_until.is_(None), Subscription.lease_until < now),
                )
                .values(lease_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            return getattr(result, "rowcount", 0) == 1

    async def _fresh(self, sub: Subscription) -> Subscription | None:
        async with self.database.sessionmaker() as session:
            return await session.get(Subscription, sub.id)

    async def _release(self, sub: Subscription) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            await session.execute(
                update(Subscription)
                .where(Subscription.id == sub.id)
                .values(lease_until=None)
                .execution_options(synchronize_session=False)
            )

    async def _post(
        self, sub: Subscription, event: CloudEvent
    ) -> tuple[bool, int | None, str | None]:
        body = event.model_dump_json(by_alias=True, exclude_none=True).encode()
        timestamp = int(self.clock().timestamp())
        try:
            secret = self.secrets.open(sub.secret)
        except SecretUnreadable as exc:
            # Not sent unsigned: retried (with backoff) until the key is configured again.
            return False, None, f"signing secret unreadable: {exc}"[:MAX_ERROR]
        headers = {
            "content-type": "application/cloudevents+json",
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, event.id, timestamp, body),
            "ce-type": event.type,
        }
        try:
            response = await self.client.post(sub.url, content=body, headers=headers)
        except Exception as exc:  # any failure is this receiver's, not the round's
            # Not only transport errors: a stored URL the client cannot parse (InvalidURL)
            # fails here too, and is recorded and retried like an unreachable receiver.
            return False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        if 200 <= response.status_code < 300:
            return True, response.status_code, None
        return False, response.status_code, f"receiver answered {response.status_code}"

    async def _record(
        self,
        sub: Subscription,
        event: CloudEvent,
        ok: bool,
        status: int | None,
        error: str | None,
        duration_ms: int,
    ) -> Subscription:
        now = self.clock()
        async with self.database.sessionmaker() as session, session.begin():
            row = await session.get(Subscription, sub.id, with_for_update=True)
            if row is None:  # deleted meanwhile
                return sub
            session.add(
                Delivery(
                    subscription_id=row.id,
                    event_id=event.id,
                    event_sequence=event.sequence,
                    event_type=event.type,
                    attempt=row.failure_count + 1,
                    at=now,
                    succeeded=ok,
                    status_code=status,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            row.last_attempt_at = now
            row.last_status_code = status
            if ok:
                row.cursor = max(row.cursor, event.sequence)
                row.failure_count = 0
                row.next_attempt_at = None
                row.last_success_at = now
                row.last_error = None
            else:
                row.failure_count += 1
                row.next_attempt_at = now + timedelta(
                    seconds=backoff_seconds(row.failure_count, self.max_backoff)
                )
                row.last_error = error
            await session.flush()
            return row

    async def _skip_to(self, sub: Subscription, sequence: int) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            await session.execute(
                update(Subscription)
                .where(Subscription.id == sub.id, Subscription.cursor < sequence)
                .values(cursor=sequence)
                .execution_options(synchronize_session=False)
            )

    async def deliver(self, sub: Subscription) -> int:
        """Deliver the subscription's pending events in order until one fails."""
        attempts = 0
        async with self.database.sessionmaker() as session:
            events = await read_events(session, event_outbox, sub.cursor, BATCH)
            view = await webhook_view(session, sub.owner_org)
        skipped_to = None
        for event in events:
            if not wanted(event.type, sub.event_types) or not addressed_to(event, sub):
                skipped_to = event.sequence
                continue
            if skipped_to is not None:
                await self._skip_to(sub, skipped_to)
                skipped_to = None
            started = time.perf_counter()
            ok, status, error = await self._post(sub, view.event(event))
            attempts += 1
            duration = int((time.perf_counter() - started) * 1000)
            sub = await self._record(sub, event, ok, status, error, duration)
            if not ok:
                logger.info(
                    "webhook delivery failed; retry later", extra={"subscription": str(sub.id)}
                )
                return attempts
        if skipped_to is not None:
            await self._skip_to(sub, skipped_to)
        return attempts

    async def _fail(self, sub: Subscription, error: str) -> None:
        """Record a failure that is not one delivery's answer (the subscription's events
        or row could not be handled) on the subscription, with the same backoff."""
        now = self.clock()
        async with self.database.sessionmaker() as session, session.begin():
            row = await session.get(Subscription, sub.id, with_for_update=True)
            if row is None:
                return
            row.failure_count += 1
            row.last_attempt_at = now
            row.last_status_code = None
            row.last_error = error[:MAX_ERROR]
            row.next_attempt_at = now + timedelta(
                seconds=backoff_seconds(row.failure_count, self.max_backoff)
            )

    async def run_once(self) -> int:
        """One round over every due subscription; returns the number of POSTs made.

        What goes wrong with one subscription is recorded on it (with backoff) and the
        round goes on with the next: one bad receiver never holds up the others."""
        attempts = 0
        for due in await self._due():
            if not await self._lease(due):
                continue
            try:
                # Read it again under the lease: another process may have delivered
                # (and moved the cursor) between our listing and our lease.
                sub = await self._fresh(due)
                if sub is not None and sub.active:
                    attempts += await self.deliver(sub)
            except Exception as exc:  # isolated per subscription
                logger.warning(
                    "webhook subscription failed; retry later",
                    extra={"subscription": str(due.id), "error": type(exc).__name__},
                )
                await self._fail(due, f"{type(exc).__name__}: {exc}")
            finally:
                await self._release(due)
        return attempts

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # keep the loop alive; the next round retries
                logger.exception("webhook round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
