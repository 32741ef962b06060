"""One-time identifiers (client assertion ``jti``s, simulator codes): a second use is
refused by the unique constraint in the database every worker shares.

The ids of concurrent requests are written together: one multi-row ``INSERT … ON
CONFLICT DO NOTHING RETURNING`` (one statement, atomic by itself), sent as soon as the
previous one returned; an id not returned already existed (or came twice in the batch)
and is refused. Under load this is one statement per batch instead of one per grant,
with no waiting when idle."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Generator
from datetime import timedelta
from typing import Any

from servicekit.clock import utcnow
from servicekit.db import Database

from ..oauth.errors import OAuthError
from . import repository

MAX_BATCH = 500


class Done:
    """An awaitable that is already done (nothing left to confirm)."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


DONE = Done()


class OneTimeIds:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def send(self, kind: str, issuer: str, jti: str, expires_epoch: int) -> Awaitable[None]:
        """Queue a one-time id for recording; the returned awaitable confirms it (or raises
        ``invalid_client`` for a replay). The caller must await it before anything it
        computed meanwhile leaves the process."""
        expires = utcnow() + timedelta(seconds=max(0, expires_epoch - int(time.time())))
        values = {"id": uuid.uuid4(), "kind": kind, "issuer": issuer, "jti": jti}
        values["expires_at"] = expires
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((values, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        # Let the writer send the statement now, so its round trip overlaps with whatever
        # the caller does before awaiting the answer.
        await asyncio.sleep(0)
        return _confirm(future)

    async def remember(self, kind: str, issuer: str, jti: str, expires_epoch: int) -> None:
        """Record a one-time id; raises ``invalid_client`` if it was used before."""
        await (await self.send(kind, issuer, jti, expires_epoch))

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            rows: list[dict[str, Any]] = []
            waiting: dict[tuple[str, str, str], asyncio.Future[bool]] = {}
            for values, future in batch:
                key = (values["kind"], values["issuer"], values["jti"])
                if key in waiting:
                    future.set_result(False)  # the same id twice in one batch
                else:
                    waiting[key] = future
                    rows.append(values)
            try:
                inserted = await repository.record_jtis(self._database, rows)
            except Exception as exc:
                for future in waiting.values():
                    if not future.done():
                        future.set_exception(exc)
                        future.exception()  # retrieved even if its request went away
                continue
            except BaseException:  # cancelled (shutdown): nothing was confirmed
                for future in waiting.values():
                    future.cancel()
                for _values, future in self._pending:
                    future.cancel()
                self._pending.clear()
                raise
            for key, future in waiting.items():
                if not future.done():
                    future.set_result(key in inserted)

    async def aclose(self) -> None:
        """Shutdown: let a running batch finish."""
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task], timeout=5)


async def _confirm(future: asyncio.Future[bool]) -> None:
    # Shielded: a request that goes away does not cancel the others' insert.
    if not await asyncio.shield(future):
        raise OAuthError("invalid_client", "This client assertion was already used.")
