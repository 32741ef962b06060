"""Record a change: one history row and one CloudEvent, inside the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.events import current_trace_id, record_event

from ..db import event_outbox, utcnow
from .models import HistoryEntry

EVENT_SOURCE = "/api/registry/v1"
EVENT_PREFIX = "nl.samen.registry"


@dataclass(frozen=True)
class Actor:
    """Who made a change: a verified token's subject and organisation, or a system job."""

    subject: str
    org_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        # The subject is the identity service's pseudonym, never a BSN.
        return cls(subject=principal.subject[:200], org_id=principal.org_id)


SYSTEM = Actor(subject="system:registry")


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
) -> None:
    """Append the history row and the outbox event for one change.

    ``data`` is the resource as the API shows it after the change (the event payload);
    ``changes`` is what the history keeps (defaults to ``data``).
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
    await record_event(
        session,
        event_outbox,
        type=f"{EVENT_PREFIX}.{entity}.{action}",
        source=EVENT_SOURCE,
        subject=subject_path or f"{entity}s/{entity_id}",
        data=data,
    )
