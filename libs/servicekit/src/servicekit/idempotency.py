"""Idempotency-Key support for POST (same key + same body → same response, once).

Each service keeps the keys in its own database (table from :func:`idempotency_table`,
created by the service's migrations). A key is scoped to the caller (token subject or
client) so two callers cannot collide or read each other's responses.

- first request: an ``in-flight`` row is inserted (the primary key makes concurrent
  duplicates lose the race), the handler runs, the response is stored;
- same key, same request, finished: the stored response is replayed (``Idempotent-Replayed: true``);
- same key, different request: 422 problem;
- same key while the first is still running: 409 problem;
- the handler failed with an error: the key is released so the client can retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request, Response
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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import BadRequest, Conflict, UnprocessableContent

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
STORED_HEADERS = ("location", "etag", "content-type")


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


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class IdempotencyStore:
    def __init__(
        self,
        table: Table,
        sessionmaker: async_sessionmaker[AsyncSession],
        ttl: timedelta = timedelta(hours=24),
        in_flight_timeout: timedelta = timedelta(seconds=60),
    ) -> None:
        self.table = table
        self.sessionmaker = sessionmaker
        self.ttl = ttl
        self.in_flight_timeout = in_flight_timeout

    async def _claim(self, owner: str, key: str, request_hash: str) -> Response | None:
        """Insert the in-flight row, or return/raise what an existing row says."""
        t = self.table
        for _attempt in range(3):
            async with self.sessionmaker() as session:
                try:
                    async with session.begin():
                        await session.execute(
                            insert(t).values(
                                owner=owner,
                                key=key,
                                request_hash=request_hash,
                                state="in-flight",
                                created_at=_now(),
                            )
                        )
                    return None
                except IntegrityError:
                    pass
            async with self.sessionmaker() as session:
                row = (
                    await session.execute(select(t).where(t.c.owner == owner, t.c.key == key))
                ).one_or_none()
                if row is None:
                    continue  # released between our insert and read: try again
                age = _now() - _aware(row.created_at)
                expired = age > self.ttl or (
                    row.state == "in-flight" and age > self.in_flight_timeout
                )
                if expired:
                    await session.rollback()  # end the read's implicit transaction first
                    async with session.begin():
                        await session.execute(
                            delete(t).where(
                                t.c.owner == owner, t.c.key == key, t.c.created_at == row.created_at
                            )
                        )
                    continue
                return stored_answer(row, request_hash)
        raise Conflict("Could not claim the Idempotency-Key; retry.", slug="idempotency-in-flight")

    async def _complete(self, owner: str, key: str, response: Response) -> None:
        t = self.table
        headers = {k: v for k, v in response.headers.items() if k.lower() in STORED_HEADERS}
        body = bytes(response.body).decode() if response.body is not None else ""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(t)
                .where(t.c.owner == owner, t.c.key == key)
                .values(
                    state="done",
                    status_code=response.status_code,
                    response_body=body,
                    response_headers=json.dumps(headers),
                )
            )

    async def _release(self, owner: str, key: str) -> None:
        t = self.table
        async with self.sessionmaker() as session, session.begin():
            await session.execute(delete(t).where(t.c.owner == owner, t.c.key == key))

    async def run(
        self,
        request: Request,
        owner: str,
        handler: Callable[[], Awaitable[Response]],
    ) -> Response:
        """Run ``handler`` at most once per (owner, Idempotency-Key)."""
        key = request.headers.get(HEADER)
        if key is None:
            return await handler()
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise BadRequest(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
                invalid_params=[{"name": HEADER, "reason": "invalid value"}],
            )
        body = await request.body()
        digest = hashlib.sha256(
            request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
        ).hexdigest()
        replay = await self._claim(owner, key, digest)
        if replay is not None:
            return replay
        try:
            response = await handler()
        except BaseException:
            await self._release(owner, key)
            raise
        if response.status_code >= 500:
            await self._release(owner, key)
        else:
            await self._complete(owner, key, response)
        return response


def stored_answer(row: Any, request_hash: str) -> Response:
    """The stored answer for a live key row: 422 when the key came with another request,
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
