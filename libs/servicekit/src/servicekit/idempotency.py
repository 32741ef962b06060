"""Idempotency-Key for POST: same key + same request → same response, the change made once.

Each service keeps the keys in its own database (table from :func:`idempotency_table`,
created by its migrations); ``create_service_app(idempotency_keys=…)`` wires the store and
routers wrap a create in :func:`idempotent`. A key is scoped to the caller
(:func:`idempotency_owner`), so two callers can neither collide nor read each other's
answers. The answers:

- same key, same request, finished → the stored response (``Idempotent-Replayed: true``);
- same key, another request → 422 ``idempotency-key-reused``;
- same key while the first is still running → 409 ``idempotency-in-flight`` (taken over
  once older than the in-flight timeout); keys expire after the TTL;
- the handler failed → nothing is kept, so the client may retry.

:class:`IdempotencyStore` claims the key, runs the handler (its own transaction) and
stores the answer. A hot create can instead keep the key in its own transaction
(:func:`replay` before, :func:`record` inside): one commit, and the key exists exactly
when the change does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from .auth import Principal
from .clock import aware, utcnow
from .errors import BadRequest, Conflict, UnprocessableContent
from .responses import json_response

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
STORED_HEADERS = ("location", "etag", "content-type")
TTL = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(seconds=60)

Created = TypeVar("Created", bound=BaseModel)


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("owner", String(200), primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("response_body", Text, nullable=True),
        Column("response_headers", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


def idempotency_owner(principal: Principal) -> str:
    """The scope of a caller's keys: its client and subject."""
    return f"{principal.client_id or '-'}|{principal.subject}"[:200]


@dataclass
class IdempotencyKey:
    owner: str
    key: str
    request_hash: str
    # created_at of an expired or abandoned row, replaced in the same transaction.
    stale_since: datetime | None = None

    def row(self, state: str, **values: Any) -> dict[str, Any]:
        """The stored row of this key in ``state`` (in-flight, done), created now."""
        return {
            "owner": self.owner,
            "key": self.key,
            "request_hash": self.request_hash,
            "state": state,
            **values,
            "created_at": utcnow(),
        }


async def idempotency_key(request: Request, owner: str) -> IdempotencyKey | None:
    """The request's Idempotency-Key (validated: 400 when malformed) with the hash of
    the request, or None when it sent none."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
            invalid_params=[{"name": HEADER, "reason": "invalid value"}],
        )
    body = await request.body()
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    return IdempotencyKey(owner, key, digest)


def _expired(row: Any) -> bool:
    age = utcnow() - aware(row.created_at)
    return age > TTL or (row.state == "in-flight" and age > IN_FLIGHT_TIMEOUT)


def stored_answer(row: Any, request_hash: str) -> Response:
    """The answer a live key row gives: 422 when the key came with another request,
    409 + Retry-After while the first request is still in flight, else its response."""
    if row.request_hash != request_hash:
        raise UnprocessableContent(
            "This Idempotency-Key was used for a different request.",
            slug="idempotency-key-reused",
        )
    if row.state == "in-flight":
        raise Conflict(
            "A request with this Idempotency-Key is still being processed.",
            slug="idempotency-in-flight",
            headers={"Retry-After": "1"},
        )
    headers = json.loads(row.response_headers or "{}")
    headers["Idempotent-Replayed"] = "true"
    return Response(
        content=row.response_body or "", status_code=row.status_code or 200, headers=headers
    )


def _kept_headers(response: Response) -> str:
    return json.dumps({k: v for k, v in response.headers.items() if k.lower() in STORED_HEADERS})


def _body(response: Response) -> str:
    return bytes(response.body).decode() if response.body is not None else ""


async def replay(
    conn: AsyncSession | AsyncConnection, table: Table, key: IdempotencyKey
) -> Response | None:
    """In the caller's transaction: the stored answer for ``key``, an error for a reused
    or in-flight key, or None when the key is free (``key.stale_since`` then names a dead
    row that :func:`record` replaces)."""
    row = (
        await conn.execute(select(table).where(table.c.owner == key.owner, table.c.key == key.key))
    ).one_or_none()
    if row is None:
        return None
    if _expired(row):
        key.stale_since = row.created_at
        return None
    return stored_answer(row, key.request_hash)


async def replay_before(engine: AsyncEngine, table: Table, key: IdempotencyKey) -> Response | None:
    """:func:`replay` before any work, outside the change's transaction: one autocommit
    statement on PostgreSQL, a short transaction on SQLite."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await replay(conn, table, key)
    async with engine.connect() as conn, conn.begin():
        return await replay(conn, table, key)


async def record(
    conn: AsyncSession | AsyncConnection, table: Table, key: IdempotencyKey, response: Response
) -> None:
    """In the transaction that made the change: store its response under ``key``."""
    where = (table.c.owner == key.owner, table.c.key == key.key)
    if key.stale_since is not None:
        await conn.execute(delete(table).where(*where, table.c.created_at == key.stale_since))
    await conn.execute(
        insert(table).values(
            key.row(
                "done",
                status_code=response.status_code,
                response_body=_body(response),
                response_headers=_kept_headers(response),
            )
        )
    )


class IdempotencyStore:
    """Claims a key (an ``in-flight`` row: concurrent duplicates lose on the primary key),
    runs the handler, then stores its answer or releases the key."""

    def __init__(self, table: Table, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.table = table
        self.sessionmaker = sessionmaker

    async def _claim(self, key: IdempotencyKey) -> Response | None:
        t = self.table
        for _attempt in range(3):
            async with self.sessionmaker() as session:
                try:
                    async with session.begin():
                        await session.execute(insert(t).values(key.row("in-flight")))
                    return None
                except IntegrityError:
                    pass
            async with self.sessionmaker() as session, session.begin():
                answer = await replay(session, t, key)
                if answer is not None:
                    return answer
                if key.stale_since is not None:
                    await session.execute(
                        delete(t).where(
                            t.c.owner == key.owner,
                            t.c.key == key.key,
                            t.c.created_at == key.stale_since,
                        )
                    )
                    key.stale_since = None
            # released or expired meanwhile: claim again
        raise Conflict("Could not claim the Idempotency-Key; retry.", slug="idempotency-in-flight")

    async def _finish(self, key: IdempotencyKey, response: Response | None) -> None:
        t = self.table
        where = (t.c.owner == key.owner, t.c.key == key.key)
        async with self.sessionmaker() as session, session.begin():
            if response is None or response.status_code >= 500:
                await session.execute(delete(t).where(*where))
                return
            await session.execute(
                update(t)
                .where(*where)
                .values(
                    state="done",
                    status_code=response.status_code,
                    response_body=_body(response),
                    response_headers=_kept_headers(response),
                )
            )

    async def run(
        self, request: Request, owner: str, handler: Callable[[], Awaitable[Response]]
    ) -> Response:
        """Run ``handler`` at most once per (owner, Idempotency-Key)."""
        key = await idempotency_key(request, owner)
        if key is None:
            return await handler()
        answer = await self._claim(key)
        if answer is not None:
            return answer
        try:
            response = await handler()
        except BaseException:
            await self._finish(key, None)
            raise
        await self._finish(key, response)
        return response


async def idempotent(
    request: Request, principal: Principal, handler: Callable[[], Awaitable[Response]]
) -> Response:
    """Run a POST's ``handler`` at most once per (caller, Idempotency-Key), with the
    app's store (``create_service_app(idempotency_keys=…)``)."""
    store: IdempotencyStore = request.app.state.idempotency
    return await store.run(request, idempotency_owner(principal), handler)


async def created(
    request: Request,
    principal: Principal,
    create: Callable[[], Awaitable[Created | tuple[Created, str]]],
    location: Callable[[Created], str],
) -> Response:
    """The usual POST that makes a resource: ``create`` runs at most once per
    Idempotency-Key (:func:`idempotent`) and its result is answered with 201, the
    ``Location`` of the new resource and, when ``create`` gives one with it, its ETag."""

    async def handler() -> Response:
        result = await create()
        body, etag = result if isinstance(result, tuple) else (result, None)
        return json_response(body, status_code=201, etag=etag, location=location(body))

    return await idempotent(request, principal, handler)


async def created_unless_dry_run(
    request: Request,
    principal: Principal,
    dry_run: bool,
    create: Callable[[bool], Awaitable[Created]],
    location: Callable[[Created], str],
) -> Response:
    """A POST that can also only check (``dryRun``): then 200 with what ``create(True)``
    answers (it stores nothing, so no Idempotency-Key is used); otherwise :func:`created`
    with ``create(False)``."""
    if dry_run:
        return json_response(await create(True))
    return await created(request, principal, lambda: create(False), location)
