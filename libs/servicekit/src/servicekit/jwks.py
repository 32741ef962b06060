"""The token issuer's public keys (JWKS): fetched over HTTP, cached, refreshed when stale
or when a token names an unknown ``kid`` — at most once per interval, so a slow or down
issuer cannot stall every request (the cached keys keep serving meanwhile)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .errors import Unauthorized

logger = logging.getLogger("servicekit.auth")


JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


def http_jwks_fetcher(
    url: str, client: httpx.AsyncClient | None = None, timeout: float = 5.0
) -> JwksFetcher:
    async def fetch() -> dict[str, Any]:
        if client is not None:
            response = await client.get(url, timeout=timeout)
        else:
            async with httpx.AsyncClient(timeout=timeout) as own:
                response = await own.get(url)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    return fetch


class JwksCache:
    """Keys of the issuer, cached; refreshed on an unknown ``kid`` at most once."""

    def __init__(
        self,
        fetcher: JwksFetcher,
        max_age: float = 300.0,
        min_refresh_interval: float = 10.0,
    ) -> None:
        self._fetcher = fetcher
        self._max_age = max_age
        self._min_refresh_interval = min_refresh_interval
        self._keys: KeySet | None = None
        self._kids: set[str] = set()
        self._fetched_at = 0.0
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()
        self.fetch_count = 0
        # Increases whenever the key set changes; verified-token caches compare it.
        self.generation = 0

    async def _refresh(self) -> None:
        data = await self._fetcher()
        keys = [k for k in data.get("keys", []) if k.get("use", "sig") == "sig"]
        self._keys = KeySet.import_key_set({"keys": keys})
        self._kids = {k["kid"] for k in keys if "kid" in k}
        self._fetched_at = time.monotonic()
        self.fetch_count += 1
        self.generation += 1

    async def get(self, kid: str | None) -> KeySet:
        now = time.monotonic()
        stale = self._keys is None or now - self._fetched_at > self._max_age
        unknown = kid is not None and kid not in self._kids
        if stale or unknown:
            async with self._lock:
                now = time.monotonic()
                stale = self._keys is None or now - self._fetched_at > self._max_age
                unknown = kid is not None and kid not in self._kids
                # Whether stale or asked for an unknown kid, try the issuer at most once per
                # interval: a slow or down issuer must not stall every request.
                may_refresh = (
                    self._keys is None or now - self._last_attempt >= self._min_refresh_interval
                )
                if (stale or unknown) and may_refresh:
                    self._last_attempt = now
                    try:
                        await self._refresh()
                    except (httpx.HTTPError, ValueError, JoseError) as exc:
                        # Keep serving cached keys when the issuer is slow or down.
                        logger.warning("JWKS refresh failed: %s", type(exc).__name__)
                        if self._keys is None:
                            raise Unauthorized("The token issuer's keys are unavailable.") from exc
        assert self._keys is not None
        return self._keys
