"""Token-bucket rate limits per client (``azp``) or, for anonymous calls, per IP address.

Two stores with one behaviour: :class:`MemoryRateLimiter` for a single gateway (the
default) and :class:`RedisRateLimiter` when several replicas must share the buckets. The
Redis bucket is updated by one Lua script, so concurrent replicas never lose an update,
and it uses the Redis clock so replicas with skewed clocks agree.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from cachetools import LRUCache

logger = logging.getLogger("gateway.ratelimit")


@dataclass(frozen=True)
class Policy:
    rate: float  # tokens added per second
    burst: int  # bucket size

    @property
    def window(self) -> int:
        """Seconds an empty bucket needs to fill (the ``w`` of RateLimit-Policy)."""
        return max(1, math.ceil(self.burst / self.rate))

    @cached_property
    def fixed_headers(self) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
        """The headers that are the same on every response under this policy."""
        return (
            (b"ratelimit-limit", str(self.burst).encode()),
            (b"ratelimit-policy", f"{self.burst};w={self.window}".encode()),
        )


class Decision:
    """One rate-limit decision (a plain slotted class: one is made per request)."""

    __slots__ = ("allowed", "policy", "tokens")

    def __init__(self, allowed: bool, policy: Policy, tokens: float) -> None:
        self.allowed = allowed
        self.policy = policy
        self.tokens = tokens  # left after this request

    def __repr__(self) -> str:
        return f"Decision(allowed={self.allowed}, policy={self.policy}, tokens={self.tokens})"

    @property
    def remaining(self) -> int:
        return max(0, int(self.tokens))

    @property
    def retry_after(self) -> int:
        """Whole seconds until one token is available (0 when allowed)."""
        if self.allowed:
            return 0
        return max(1, math.ceil((1.0 - self.tokens) / self.policy.rate))

    @property
    def reset(self) -> int:
        """Seconds until the bucket is full again."""
        return max(0, math.ceil((self.policy.burst - self.tokens) / self.policy.rate))

    def headers(self) -> list[tuple[bytes, bytes]]:
        limit, policy = self.policy.fixed_headers
        return [
            limit,
            (b"ratelimit-remaining", b"%d" % self.remaining),
            (b"ratelimit-reset", b"%d" % self.reset),
            policy,
        ]  # Retry-After comes with the 429 problem itself


class RateLimiter(Protocol):
    async def hit(self, key: str, policy: Policy) -> Decision: ...

    async def close(self) -> None: ...


def refill(tokens: float, last: float, now: float, policy: Policy) -> tuple[bool, float]:
    """One token-bucket step: returns (allowed, tokens left)."""
    tokens = min(float(policy.burst), tokens + max(0.0, now - last) * policy.rate)
    if tokens >= 1.0:
        return True, tokens - 1.0
    return False, tokens


class MemoryRateLimiter:
    """Buckets in this process; the least recently used are forgotten beyond ``max_keys``
    (a forgotten bucket is full, which only ever errs on the caller's side)."""

    def __init__(self, max_keys: int = 100_000, clock: Any = time.monotonic) -> None:
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(max_keys)
        self._clock = clock

    async def hit(self, key: str, policy: Policy) -> Decision:
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(policy.burst), now))
        allowed, tokens = refill(tokens, last, now, policy)
        self._buckets[key] = (tokens, now)
        return Decision(allowed, policy, tokens)

    async def close(self) -> None:
        self._buckets.clear()


BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by all gateway replicas.

    When Redis cannot be reached the request is let through (fail open) and counted:
    a rate limiter must not turn a Redis outage into a platform outage.
    """

    def __init__(self, url: str, prefix: str = "samen:ratelimit:", timeout: float = 0.25) -> None:
        import redis.asyncio as redis_asyncio

        self._redis = redis_asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._script = self._redis.register_script(BUCKET_SCRIPT)
        self._prefix = prefix
        self.failures = 0

    async def hit(self, key: str, policy: Policy) -> Decision:
        from redis.exceptions import RedisError

        try:
            result = await self._script(keys=[self._prefix + key], args=[policy.rate, policy.burst])
        except (RedisError, OSError) as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 1000 == 0:
                logger.warning(
                    "rate-limit store unavailable (%s); letting requests through",
                    type(exc).__name__,
                )
            return Decision(True, policy, float(policy.burst))
        allowed, tokens = result
        return Decision(bool(int(allowed)), policy, float(tokens))

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
