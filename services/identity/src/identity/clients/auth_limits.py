"""A limit on failed client authentication, so a client's secret or key cannot be guessed
by calling identity directly (the gateway's rate limits do not apply there).

Per client id: after ``limit`` failures within ``window`` seconds every authentication of
that client id is refused with 429 and ``Retry-After`` until the window ends — correct
credentials too, or the limit would tell a guesser which attempt was right. Failures are
counted in Redis when ``IDENTITY_REDIS_URL`` is set (shared by every worker and replica;
one ``GET`` per client authentication), else in this process. A Redis that does not answer
never blocks a client: the limit then falls back to this process's own count.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

logger = logging.getLogger("identity.clients.limits")

MAX_TRACKED = 10_000


class TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = max(1, retry_after)


class FailedAuthLimiter:
    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        redis_url: str = "",
        clock: Any = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        # client id -> (window start, failures in it)
        self._local: dict[str, tuple[float, int]] = {}
        self._redis: Any = None
        if redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(redis_url, socket_timeout=0.25)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    def _local_retry_after(self, client_id: str) -> int:
        entry = self._local.get(client_id)
        if entry is None:
            return 0
        started, failures = entry
        left = started + self.window - self._clock()
        if left <= 0:
            del self._local[client_id]
            return 0
        return math.ceil(left) if failures >= self.limit else 0

    async def check(self, client_id: str) -> None:
        """Raise :class:`TooManyFailures` while ``client_id`` is over the limit."""
        wait = self._local_retry_after(client_id)
        if not wait and self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    count, ttl = (
                        await pipe.get(self._key(client_id)).ttl(self._key(client_id)).execute()
                    )
                if count is not None and int(count) >= self.limit:
                    wait = int(ttl) if ttl and int(ttl) > 0 else int(self.window)
            except Exception as exc:  # Redis down: this process's count still applies
                logger.warning("failed-authentication store unavailable: %s", type(exc).__name__)
        if wait:
            raise TooManyFailures(wait)

    async def failed(self, client_id: str) -> None:
        """Count a failed authentication of ``client_id``."""
        now = self._clock()
        entry = self._local.get(client_id)
        if entry is None or now - entry[0] >= self.window:
            if len(self._local) >= MAX_TRACKED:
                self._local.clear()
            self._local[client_id] = (now, 1)
        else:
            self._local[client_id] = (entry[0], entry[1] + 1)
        if self._redis is not None:
            key = self._key(client_id)
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    await pipe.incr(key).expire(key, int(self.window), nx=True).execute()
            except Exception as exc:
                logger.warning("failed-authentication store unavailable: %s", type(exc).__name__)

    @staticmethod
    def _key(client_id: str) -> str:
        return f"identity:client-auth-failures:{client_id}"
