"""Upstream services: one aiohttp client session (one keep-alive pool) and one circuit
breaker each. Each upstream has its own pool, so a slow service that holds all its
connections cannot starve the other routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractCookieJar
from yarl import URL

from .breaker import CircuitBreaker, State
from .config import Settings
from .metrics import GatewayMetrics

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2.0)


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
        breaker: CircuitBreaker,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.breaker = breaker
        parts = urlsplit(self.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        # The client span's attributes that are the same on every call.
        self.span_attributes = {
            "server.address": self.host,
            "server.port": self.port,
            "peer.service": name,
        }
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=connect_timeout,  # also bounds the wait for a free pooled connection
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        self._pool_size = pool_size
        self._keepalive = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(
        cls, name: str, url: str, settings: Settings, metrics: GatewayMetrics
    ) -> Upstream:
        gauge = metrics.breaker_state.labels(name)
        gauge.set(0)
        breaker = CircuitBreaker(
            settings.breaker_failures,
            settings.breaker_open_seconds,
            on_change=lambda state: gauge.set(int(state)),
        )
        return cls(
            name,
            url,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout_for(name),
            pool_size=settings.pool_size,
            keepalive_seconds=settings.keepalive_seconds,
            breaker=breaker,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("upstream session used outside the app's lifespan")
        return self._session

    @property
    def state(self) -> State:
        return self.breaker.state

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

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
    ) -> aiohttp.ClientResponse:
        """Send a request (``target``: path and query, already percent-encoded) and
        return at the response head; redirects are passed on, never followed."""
        return await self.session.request(
            method,
            URL(self.url + target, encoded=True),
            headers=headers,
            data=body,
            allow_redirects=False,
        )

    async def probe(self) -> dict[str, str]:
        """The upstream's liveness and this gateway's breaker state for it."""
        entry = {"breaker": self.state.name.lower().replace("_", "-")}
        try:
            async with self.session.get(
                f"{self.url}/health/live", timeout=PROBE_TIMEOUT
            ) as response:
                entry["status"] = "pass" if response.status == 200 else "fail"
                if response.status != 200:
                    entry["output"] = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            entry["status"] = "fail"
            entry["output"] = type(exc).__name__
        return entry
