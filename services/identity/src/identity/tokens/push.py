"""Revocations pushed to the resource servers over Redis pub/sub, where Redis is configured.

Every access token revoked before its expiry is on the revocation feed, which the services
and the gateway poll every few seconds (servicekit.revocations). With ``IDENTITY_REDIS_URL``
set, identity also publishes each new revocation on :data:`servicekit.revocations.CHANNEL`
within :attr:`RevocationPublisher.interval` of its commit, and services with a Redis URL of
their own refuse the token at once. It reads what it publishes from the same table as the
feed (so only committed revocations, from every identity process, are pushed); each
process publishes what it has not published itself yet (a duplicate is harmless: adding a
revoked id is idempotent). Redis being away costs nothing but speed: polling still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from servicekit.revocation_push import CHANNEL, MAX_PUSHED_ENTRIES, push_message

logger = logging.getLogger("identity.revocation_push")

RevokedSince = Callable[[float | None], Awaitable[dict[str, Any]]]


class RevocationPublisher:
    def __init__(self, redis_url: str, revoked_since: RevokedSince, interval: float = 0.5) -> None:
        self.redis_url = redis_url
        self.revoked_since = revoked_since
        self.interval = interval
        self.published: dict[str, float] = {}  # jti -> exp, until it expires
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def publish_new(self, client: Any, cursor: float | None) -> float:
        """Publish the revocations not published yet; the next cursor."""
        data = await self.revoked_since(cursor)
        new = [
            (str(e["jti"]), float(e["exp"]))
            for e in data["revoked"]
            if str(e["jti"]) not in self.published
        ]
        for start in range(0, len(new), MAX_PUSHED_ENTRIES):
            chunk = new[start : start + MAX_PUSHED_ENTRIES]
            await client.publish(CHANNEL, push_message(chunk))
            self.published.update(chunk)
        now = time.time()
        for jti in [j for j, exp in self.published.items() if exp < now]:
            del self.published[jti]
        return float(data["cursor"])

    async def run(self) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(self.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        # New revocations only: those before the start are on the feed every service polls.
        cursor: float | None = time.time()
        try:
            while True:
                try:
                    cursor = await self.publish_new(client, cursor)
                    if self.failures:
                        logger.info("pushing revocations again after %d failures", self.failures)
                    self.failures = 0
                except Exception as exc:  # Redis or the database: try again
                    self.failures += 1
                    if self.failures == 1 or self.failures % 120 == 0:
                        logger.warning(
                            "cannot push revocations (%s); the services still poll the feed",
                            type(exc).__name__,
                        )
                await asyncio.sleep(self.interval)
        finally:
            await client.aclose()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
