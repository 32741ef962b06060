"""Upstream services: one pooled aiohttp session and one circuit breaker per upstream.

aiohttp's client was chosen by measurement for the hot path (httpx measured 0.13x nginx
on this machine, aiohttp 0.98x; see bench/gateway). Each upstream gets its own connection
pool so a slow service that holds all its connections cannot starve the other routes.
"""

from __future__ import annotations

import aiohttp
from aiohttp.abc import AbstractCookieJar

from .breaker import CircuitBreaker, State
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
        host, _, port = self.url.split("://", 1)[-1].split("/", 1)[0].rpartition(":")
        self.host = host or port
        self.port = int(port) if host and port.isdigit() else 80

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
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def state(self) -> State:
        return self.breaker.state
