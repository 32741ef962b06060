"""Record a change: one history row and one CloudEvent, inside the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.clock import utcnow
from servicekit.events import current_trace_id, record_event
from servicekit.schemas import ApiModel, ApiOutModel

from ..db import event_outbox
from .models import HistoryEntry

EVENT_SOURCE = "/api/registry/v1"
EVENT_PREFIX = "nl.samen.registry"
# Events addressed to one organisation (``audience`` in their data): not on the public
# feed, delivered to that organisation's webhook subscriptions only.
PRIVATE_EVENT_PREFIX = f"{EVENT_PREFIX}.exposure."
FEED_LOCK_KEY = 0x5A4D454E  # arbitrary, fixed: "registry change feed"


SYSTEM = Actor.system("registry")


async def _serialise_feed(session: AsyncSession) -> None:
    """Make feed order equal commit order on PostgreSQL.

    A sequence number is taken at insert time but becomes visible at commit; two
    concurrent transactions could commit out of sequence order and a reader resuming
    ``after=N`` would skip the late one. A transaction-scoped advisory lock, held until
    commit, serialises the writers that emit events (registry writes are rare). SQLite
    needs nothing: BEGIN IMMEDIATE already serialises writers.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK_KEY})


async def record_change(
    session: AsyncSession,
    actor: Actor,
    *,
    entity: str,
    entity_id: uuid.UUID,
    action: str,
    data: dict[str, Any],
    changes: dict[str, Any] | None = None,
    subject_path: str | None = None,
    publish: bool = True,
) -> None:
    """Append the history row and the outbox event for one change.

    ``data`` is the resource as the API shows it after the change (the event payload);
    ``changes`` is what the history keeps (defaults to ``data``). ``publish=False``
    keeps private changes (webhook subscriptions) out of the public feed.
    """
    session.add(
        HistoryEntry(
            entity_type=entity,
            entity_id=entity_id,
            action=action,
            actor=actor.subject,
            actor_org=actor.org_id,
            at=utcnow(),
            trace_id=current_trace_id(),
            changes=changes if changes is not None else data,
        )
    )
    if not publish:
        return
    await _serialise_feed(session)
    await record_event(
        session,
        event_outbox,
        type=f"{EVENT_PREFIX}.{entity}.{action}",
        source=EVENT_SOURCE,
        subject=subject_path or f"{collection(entity)}/{entity_id}",
        data=data,
    )


def collection(entity: str) -> str:
    """The API's collection of an entity (``facility`` → ``facilities``): an event's
    subject is the resource's path."""
    return entity[:-1] + "ies" if entity.endswith("y") else entity + "s"


async def record_out(
    session: AsyncSession,
    actor: Actor,
    entity: str,
    action: str,
    out: ApiOutModel,
    *,
    changes: dict[str, Any] | ApiModel | None = None,
    subject_path: str | None = None,
    **event: Any,
) -> None:
    """:func:`record_change` for the resource as the API shows it (``out``, with an
    ``id``); ``changes`` may be the request's patch (its fields that were sent)."""
    if isinstance(changes, ApiModel):
        changes = changes.model_dump(mode="json", by_alias=True, exclude_unset=True)
    await record_change(
        session,
        actor,
        entity=entity,
        entity_id=out.id,  # type: ignore[attr-defined]
        action=action,
        data={**out.model_dump(mode="json", by_alias=True), **event},
        changes=changes,
        subject_path=subject_path,
    )
