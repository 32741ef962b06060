"""Append-only history of every change (who, when, what, trace) plus its CloudEvent.

Both rows are written in the caller's transaction, so a change, its history row and its
event are committed together or not at all.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from servicekit.actor import Actor
from servicekit.clock import UtcDateTime
from servicekit.events import record_event

from .db import Base, event_outbox

EVENT_SOURCE = "/procurement"


class HistoryEntry(Base, table=True):
    __tablename__ = "history"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tender_id: uuid.UUID = Field(index=True)
    entity: str = Field(max_length=20)
    entity_id: uuid.UUID
    action: str = Field(max_length=40)
    from_status: str | None = Field(default=None, max_length=40)
    to_status: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    actor_subject: str = Field(max_length=255)
    actor_org_id: str | None = Field(default=None, max_length=20)
    actor_client_id: str | None = Field(default=None, max_length=255)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    traceparent: str | None = Field(default=None, max_length=55)
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))


@event.listens_for(HistoryEntry, "before_update")
@event.listens_for(HistoryEntry, "before_delete")
def _history_is_append_only(*_args: Any) -> None:
    raise RuntimeError("history rows are append-only")


async def record(
    session: AsyncSession,
    *,
    tender_id: uuid.UUID,
    entity: str,
    entity_id: uuid.UUID,
    action: str,
    actor: Actor,
    at: datetime,
    event_type: str,
    event_data: dict[str, Any],
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    # A Core INSERT now (not at the next flush): cheaper than the unit of work, and the
    # history row goes in before the outbox event takes the feed's lock.
    await session.execute(
        insert(HistoryEntry.__table__).values(  # type: ignore[attr-defined]
            id=uuid.uuid4(),
            tender_id=tender_id,
            entity=entity,
            entity_id=entity_id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor_subject=actor.subject,
            actor_org_id=actor.org_id,
            actor_client_id=actor.client_id,
            at=at,
            traceparent=actor.trace,
            data=json.dumps(data or {}, default=str),
        )
    )
    await record_event(
        session,
        event_outbox,
        type=f"nl.samen.procurement.{event_type}",
        source=EVENT_SOURCE,
        subject=f"tenders/{tender_id}" + (f"/{entity}s/{entity_id}" if entity != "tender" else ""),
        data=event_data,
    )
