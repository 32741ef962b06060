"""CloudEvents change feed through a transactional outbox.

A service records an event in the same transaction as the change it describes
(:func:`record_event`), so the feed never shows a change that was rolled back and never
misses one that was committed. Readers page through ``GET /v1/events?after=<sequence>``
(:func:`events_router`); each item is a CloudEvents 1.0 event in structured JSON form.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security
from opentelemetry import trace
from pydantic import Field
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Principal
from .clock import aware
from .db import SessionDep
from .http import ApiRoute
from .schemas import ApiOutModel

SPEC_VERSION = "1.0"


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "event_outbox",
        metadata,
        Column(
            "sequence",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("id", String(36), nullable=False, unique=True),
        Column("type", String(200), nullable=False),
        Column("source", String(200), nullable=False),
        Column("subject", String(200), nullable=True),
        Column("time", DateTime(timezone=True), nullable=False),
        Column("data", Text, nullable=False),
        Column("traceparent", String(55), nullable=True),
    )


def _feed_lock_key(table: Table) -> int:
    return zlib.crc32(f"samen-outbox:{table.name}".encode())


def current_trace_id() -> str | None:
    """Trace id of the current span (for history rows), if any."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def current_traceparent() -> str | None:
    """W3C ``traceparent`` of the current span (the change's trace), if any."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


async def record_event(
    session: AsyncSession,
    table: Table,
    *,
    type: str,
    source: str,
    subject: str | None,
    data: dict[str, Any],
) -> str:
    """Add an event to the outbox inside the caller's open transaction; returns its id.

    On PostgreSQL a transaction-scoped advisory lock (held until commit) serialises the
    writers of one outbox: a sequence number is taken at insert but becomes visible at
    commit, so without it two transactions could commit out of sequence order and a
    reader resuming ``after=N`` would skip the late one. SQLite needs nothing: its
    writers are already serialised (BEGIN IMMEDIATE)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _feed_lock_key(table)}
        )
    event_id = str(uuid.uuid4())
    await session.execute(
        insert(table).values(
            id=event_id,
            type=type,
            source=source,
            subject=subject,
            time=datetime.now(UTC),
            data=json.dumps(data, default=str, separators=(",", ":")),
            traceparent=current_traceparent(),
        )
    )
    return event_id


class CloudEvent(ApiOutModel):
    """A CloudEvents 1.0 event (structured JSON). Attribute names follow the spec."""

    specversion: str = SPEC_VERSION
    id: str
    type: str
    source: str
    subject: str | None = None
    time: datetime
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    sequence: int = Field(description="Position in the feed; pass as `after` to continue")
    traceparent: str | None = Field(default=None, description="W3C trace of the change")


class EventLinks(ApiOutModel):
    self: dict[str, str]
    next: dict[str, str] | None = None


class EventFeed(ApiOutModel):
    items: list[CloudEvent]
    links: EventLinks = Field(alias="_links")


def _to_event(row: Any) -> CloudEvent:
    time = aware(row.time)
    return CloudEvent(
        id=row.id,
        type=row.type,
        source=row.source,
        subject=row.subject,
        time=time,
        data=json.loads(row.data),
        sequence=row.sequence,
        traceparent=row.traceparent,
    )


async def read_events(
    session: AsyncSession,
    table: Table,
    after: int,
    limit: int,
    hidden_prefix: str | None = None,
) -> list[CloudEvent]:
    """Events after a sequence; ``hidden_prefix``: leave out the event types starting with
    it (events addressed to one party, not for every reader of the feed)."""
    query = select(table).where(table.c.sequence > after)
    if hidden_prefix:
        query = query.where(~table.c.type.startswith(hidden_prefix, autoescape=True))
    rows = (await session.execute(query.order_by(table.c.sequence).limit(limit))).all()
    return [_to_event(row) for row in rows]


# What a caller may see of the events read: (session, caller, events) -> events.
FeedView = Callable[[AsyncSession, Principal, list[CloudEvent]], Awaitable[list[CloudEvent]]]


def events_router(
    table: Table,
    auth: Callable[..., Any],
    read_scope: str,
    tag: str = "events",
    hidden_prefix: str | None = None,
    shown: FeedView | None = None,
) -> APIRouter:
    """``GET /v1/events``: the service's change feed, oldest first, by sequence cursor;
    event types starting with ``hidden_prefix`` are not on it; ``shown``, when given,
    turns the events read into what this caller may see of them."""
    router = APIRouter(tags=[tag], route_class=ApiRoute)

    @router.get(
        "/v1/events",
        operation_id="listEvents",
        summary="Read the change feed (CloudEvents)",
        response_model=EventFeed,
        response_model_exclude_none=True,
    )
    async def list_events(
        request: Request,
        session: SessionDep,
        after: Annotated[
            int, Query(ge=0, le=2**63 - 1, description="Return events after this sequence")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=500, description="Maximum events to return")] = 100,
        # Default-value style: postponed annotations cannot see this closure's ``auth``.
        _principal: Principal = Security(auth, scopes=[read_scope]),
    ) -> dict[str, Any]:
        events = await read_events(session, table, after, limit, hidden_prefix)
        if shown is not None:
            events = await shown(session, _principal, events)
        path = request.url.path
        links: dict[str, Any] = {"self": {"href": f"{path}?after={after}&limit={limit}"}}
        if len(events) == limit:
            links["next"] = {"href": f"{path}?after={events[-1].sequence}&limit={limit}"}
        return {"items": events, "_links": links}

    return router
