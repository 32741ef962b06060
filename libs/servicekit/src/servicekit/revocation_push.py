"""Revocations pushed over Redis pub/sub (where Redis is configured): identity publishes
each revocation as it commits on :data:`CHANNEL`; :class:`RevocationPush` adds them to a
service's :class:`servicekit.revocations.RevocationList` at once. A message can only add
revoked ids, never make a token valid, and is bounded in size and lifetime."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .revocations import RevocationList

logger = logging.getLogger("servicekit.revocations")

# Redis pub/sub channel of pushed revocations: {"revoked": [{"jti", "exp"}, ...]}.
CHANNEL = "samen:revocations"
# A pushed message is ignored beyond these bounds (a rogue publisher cannot fill memory):
# access tokens live an hour at most.
MAX_PUSHED_ENTRIES = 1000
MAX_PUSHED_LIFETIME = 86_400.0


def pushed_entries(data: bytes | str, now: float) -> list[tuple[str, float]]:
    """The (jti, exp) pairs of a pushed message; [] for anything malformed or out of bounds."""
    try:
        message = json.loads(data)
        entries = message["revoked"]
        if not isinstance(entries, list) or len(entries) > MAX_PUSHED_ENTRIES:
            return []
        out = []
        for entry in entries:
            jti, exp = entry["jti"], float(entry["exp"])
            if isinstance(jti, str) and 0 < len(jti) <= 255 and now < exp:
                out.append((jti, min(exp, now + MAX_PUSHED_LIFETIME)))
        return out
    except (ValueError, KeyError, TypeError):
        return []


def push_message(entries: Iterable[tuple[str, float]]) -> str:
    """The message identity publishes on :data:`CHANNEL`."""
    return json.dumps({"revoked": [{"jti": jti, "exp": int(exp)} for jti, exp in entries]})


class RevocationPush:
    """Listens on Redis pub/sub for revocations identity pushes and adds them to a
    :class:`RevocationList` at once; reconnects with growing pauses when Redis is away."""

    def __init__(self, redis_url: str, revoked: RevocationList, channel: str = CHANNEL) -> None:
        self.redis_url = redis_url
        self.revoked = revoked
        self.channel = channel
        self.connected = False
        self.received = 0
        # Called after each (re)subscription: what was pushed meanwhile is in the next poll.
        self.on_subscribed: Callable[[], Awaitable[object]] | None = None

    async def run(self) -> None:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        pause = 0.5
        while True:
            client = Redis.from_url(self.redis_url, health_check_interval=15)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.connected, pause = True, 0.5
                    logger.info("listening for pushed revocations on %s", self.channel)
                    if self.on_subscribed is not None:
                        await self.on_subscribed()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.handle(message["data"])
            except Exception as exc:  # the listener must outlive any failure
                if self.connected or not isinstance(exc, RedisError | OSError):
                    logger.warning(
                        "pushed revocations unavailable (%s); polling only", type(exc).__name__
                    )
            finally:
                self.connected = False
                await client.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)

    def handle(self, data: bytes | str) -> int:
        """Add a message's revocations; how many it held."""
        entries = pushed_entries(data, time.time())
        for jti, exp in entries:
            self.revoked.add(jti, exp)
        self.received += len(entries)
        return len(entries)
