"""Upstream services: a connection pool, an aiohttp session and a circuit breaker each.

The proxy's hot path uses :class:`gateway.client.Pool` (chosen by measurement: httpx
measured 0.13x nginx on this machine, aiohttp ~150 us of CPU per call, the lean client
~50 us; see bench/gateway). aiohttp serves the calls off the hot path (readiness,
OpenAPI documents). Each upstream has its own pool, so a slow service that holds all
its connections cannot starve the other routes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractCookieJar

from .breaker import CircuitBreaker, State
from .client import Pool
from .metrics import GatewayMetrics


class Upstream:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int,
        keepalive_seconds: float,
        breaker_failures: int,
        breaker_open_seconds: float,
        metrics: GatewayMetrics,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.metrics = metrics
        gauge = metrics.breaker_state.labels(name)
        gauge.set(0)
        self.breaker = CircuitBreaker(
            breaker_failures, breaker_open_seconds, on_change=lambda s: gauge.set(int(s))
        )
        self.connect_timeout = connect_timeout
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            # Also bounds the wait for a free pooled connection.
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        self._pool_size = pool_size
        self._keepalive = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None
        parts = urlsplit(self.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        # The hot path (proxying) uses the lean client; aiohttp serves the rest.
        self.pool = Pool(
            self.host,
            self.port,
            size=pool_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            keepalive=keepalive_seconds,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("upstream session used outside the app's lifespan")
        return self._session

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=0,
            keepalive_timeout=self._keepalive,
            ttl_dns_cache=300,
        )
        jar: AbstractCookieJar = aiohttp.DummyCookieJar()  # never share cookies between users
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=jar,
            auto_decompress=False,  # bytes pass through as the upstream encoded them
            timeout=self.timeout,
            # aiohttp would otherwise add headers the client never sent.
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            trust_env=False,
        )

    async def close(self) -> None:
        self.pool.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def state(self) -> State:
        return self.breaker.state
