"""Idempotency-Key for enrollment, stored in the enrollment's own transaction.

servicekit's :class:`~servicekit.idempotency.IdempotencyStore` claims a key in one
transaction, runs the handler (its own transaction) and stores the response in a third.
Enrollment is the hot path of a 342-municipality burst, so it records the key together
with the enrollment instead: one commit, and the key exists exactly when the enrollment
does. Same table, same owner scoping, same answers to clients:

- a finished key with the same request → the stored response, ``Idempotent-Replayed: true``;
- a key used for another request → 422 ``idempotency-key-reused``;
- a key "in flight" (a row left by servicekit's store) → 409 ``idempotency-in-flight``,
  taken over once older than the in-flight timeout; keys expire after the TTL;
- an error stores nothing (the transaction rolls back), so the client may retry.

Concurrent duplicates never both enroll: the second one's insert meets the first one's
enrollment (unique per tender and municipality) and is answered from the key row that
committed with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from servicekit.errors import BadRequest
from servicekit.idempotency import HEADER, MAX_KEY_LENGTH, STORED_HEADERS, stored_answer

from .db import idempotency_keys as T

TTL = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(seconds=60)


@dataclass
class Key:
    owner: str
    key: str
    request_hash: str
    # created_at of an expired or abandoned row to remove in the same transaction.
    stale_since: datetime | None = None


async def key_of(request: Request, owner: str) -> Key | None:
    """The request's Idempotency-Key (validated) with the request's hash, or None."""
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
    return Key(owner, key, digest)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def lookup(engine: AsyncEngine, key: Key) -> Response | None:
    """:func:`replay` before any work. On PostgreSQL one autocommit statement (no
    BEGIN/COMMIT round trips for a single read); SQLite reads in a short transaction."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await replay(conn, key)
    async with engine.connect() as conn, conn.begin():
        return await replay(conn, key)


async def replay(session: AsyncSession | AsyncConnection, key: Key) -> Response | None:
    """The stored answer for this key, an error for a reused or in-flight key, or None
    when the key is free (then ``key.stale_since`` names a dead row to replace). Runs in
    the caller's transaction."""
    row = (
        await session.execute(select(T).where(T.c.owner == key.owner, T.c.key == key.key))
    ).one_or_none()
    if row is None:
        return None
    age = datetime.now(UTC) - _aware(row.created_at)
    if age > TTL or (row.state == "in-flight" and age > IN_FLIGHT_TIMEOUT):
        key.stale_since = row.created_at
        return None
    return stored_answer(row, key.request_hash)


async def record(session: AsyncSession | AsyncConnection, key: Key, response: Response) -> None:
    """Store the response under the key, inside the transaction that made it."""
    if key.stale_since is not None:
        await session.execute(
            delete(T).where(
                T.c.owner == key.owner, T.c.key == key.key, T.c.created_at == key.stale_since
            )
        )
    headers = {k: v for k, v in response.headers.items() if k.lower() in STORED_HEADERS}
    await session.execute(
        insert(T).values(
            owner=key.owner,
            key=key.key,
            request_hash=key.request_hash,
            state="done",
            status_code=response.status_code,
            response_body=bytes(response.body).decode(),
            response_headers=json.dumps(headers),
            created_at=datetime.now(UTC),
        )
    )
