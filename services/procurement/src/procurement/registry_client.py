"""Reading the registry over HTTP with a client_credentials token from identity.

The registry is another service: we only use its public API contract (organisations,
facilities, usages) and never its database. Every failure to reach it (connection,
timeout, 5xx, token endpoint down) becomes :class:`RegistryUnavailable`, which callers
turn into 503 + Retry-After or work around (explicit start dates), never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from servicekit.errors import ServiceUnavailable
from servicekit.revocations import ClientCredentials

logger = logging.getLogger("procurement.registry")

# Renew the token this many seconds before it expires, so a request never carries a
# token that expires in flight.
TOKEN_EXPIRY_MARGIN = 30.0


class RegistryUnavailable(ServiceUnavailable):
    slug = "registry-unavailable"


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str = "registry:read registry:contracts",
        timeout: float = 3.0,
        retry_after: int = 5,
        cache_seconds: float = 300.0,
        usage_cache_seconds: float = 10.0,
        private_key_jwk: str = "",
        assertion_audience: str = "",
    ) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"Accept": "application/json"},
            # Keep connections to the registry open through a burst of enrollments.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )
        self.token_url = token_url
        self.credentials = ClientCredentials(
            client_id, client_secret, private_key_jwk, assertion_audience or token_url
        )
        self.scope = scope
        self.retry_after = retry_after
        self.cache_seconds = cache_seconds
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}
        self.usage_cache_seconds = usage_cache_seconds
        # Bulk reads shared by a burst of enrollments: every municipality (by OIN) and a
        # facility's active usages (by municipality id), each fetched by one request at
        # a time (single flight) and reused for their TTL.
        self._directory: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._usages: dict[str, tuple[float, dict[str, list[dict[str, Any]]]]] = {}
        self._bulk_locks: dict[str, asyncio.Lock] = {}

    def clear_cache(self) -> None:
        """Forget every cached registry answer (tests; an operator's reload)."""
        self._cache.clear()
        self._directory = None
        self._usages.clear()

    async def aclose(self) -> None:
        await self.http.aclose()

    def unavailable(self, why: str) -> RegistryUnavailable:
        return RegistryUnavailable(
            f"The registry cannot be reached ({why}); try again later.",
            retry_after=self.retry_after,
        )

    async def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        async with self._token_lock:
            if self._token and time.monotonic() < self._token_expires:
                return self._token
            data = {"grant_type": "client_credentials", "scope": self.scope}
            basic = self.credentials.apply(data)
            try:
                response = await self.http.post(
                    self.token_url,
                    data=data,
                    auth=basic or httpx.USE_CLIENT_DEFAULT,
                    headers={"Accept": "application/json"},
                )
            except httpx.HTTPError as exc:
                raise self.unavailable("token endpoint unreachable") from exc
            if response.status_code != 200:
                # A misconfigured secret is an operator problem, not the caller's:
                # report it in the log and answer 503 rather than leak details.
                logger.error("token endpoint answered %s", response.status_code)
                raise self.unavailable("no access token")
            try:
                body = response.json()
                token = str(body["access_token"])
                lifetime = float(body.get("expires_in", 300))
            except (ValueError, KeyError, TypeError) as exc:
                raise self.unavailable("malformed token response") from exc
            self._token = token
            self._token_expires = time.monotonic() + max(0.0, lifetime - TOKEN_EXPIRY_MARGIN)
            return token

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any | None:
        """GET a registry resource; None for 404; RegistryUnavailable for outages."""
        for attempt in range(2):
            token = await self._access_token()
            try:
                response = await self.http.get(
                    path, params=params, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                raise self.unavailable(type(exc).__name__) from exc
            if response.status_code == 401 and attempt == 0:
                # Revoked or rotated: fetch a fresh token once.
                self._token = None
                continue
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                logger.warning("registry %s answered %s", path, response.status_code)
                raise self.unavailable(f"status {response.status_code}")
            try:
                return response.json()
            except ValueError as exc:
                raise self.unavailable("malformed response") from exc
        raise self.unavailable("token refused")

    def _cached(self, key: str) -> tuple[bool, Any]:
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < self.cache_seconds:
            return True, hit[1]
        return False, None

    def _store(self, key: str, value: Any) -> None:
        if value is not None:
            self._cache[key] = (time.monotonic(), value)

    async def facility(self, facility_id: str) -> dict[str, Any] | None:
        data = await self._get(f"/v1/facilities/{facility_id}")
        return data if isinstance(data, dict) else None

    async def merger(self, merger_id: str) -> dict[str, Any] | None:
        """A municipal merger recorded in the registry (never cached: applied once)."""
        data = await self._get(f"/v1/municipality-mergers/{merger_id}")
        return data if isinstance(data, dict) else None

    async def organisation(self, organisation_id: str) -> dict[str, Any] | None:
        key = f"org:{organisation_id}"
        hit, value = self._cached(key)
        if hit:
            return dict(value)
        data = await self._get(f"/v1/organisations/{organisation_id}")
        result = data if isinstance(data, dict) else None
        self._store(key, result)
        return result

    async def organisation_by_oin(
        self, oin: str, type_: str | None = None, *, cached_only: bool = False
    ) -> dict[str, Any] | None:
        key = f"oin:{type_}:{oin}"
        hit, value = self._cached(key)
        if hit or cached_only:
            return dict(value) if value else None
        params = {"oin": oin}
        if type_:
            params["type"] = type_
        data = await self._get("/v1/organisations", params)
        items = data.get("items", []) if isinstance(data, dict) else []
        match = next((o for o in items if isinstance(o, dict) and o.get("oin") == oin), None)
        self._store(key, match)
        return match

    async def _all_pages(self, path: str, params: dict[str, str]) -> list[dict[str, Any]] | None:
        """Every item of a paged registry list, or None when the pages did not add up to
        the announced total (the list changed while paging, or a page was malformed)."""
        items: list[dict[str, Any]] = []
        total: int | None = None
        for page in range(1, 1000):
            data = await self._get(path, {**params, "page": str(page), "pageSize": "100"})
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                return None
            chunk = [x for x in data["items"] if isinstance(x, dict)]
            if total is None:
                total = data.get("total") if isinstance(data.get("total"), int) else None
            elif data.get("total") != total:
                return None
            items.extend(chunk)
            if len(data["items"]) < 100 or (total is not None and len(items) >= total):
                break
        return items if total is None or len(items) == total else None

    async def organisation_radar(
        self, organisation_id: str, within: str, as_of: str
    ) -> list[dict[str, Any]] | None:
        """A municipality's current contracts ending within ``within`` of ``as_of``, each
        with the collective facilities it could join (the registry's radar); None when
        its pages did not add up."""
        path = f"/v1/organisations/{organisation_id}/radar"
        return await self._all_pages(path, {"within": within, "asOf": as_of})

    def _lock(self, name: str) -> asyncio.Lock:
        return self._bulk_locks.setdefault(name, asyncio.Lock())

    def _directory_fresh(self) -> dict[str, dict[str, Any]] | None:
        if self._directory and time.monotonic() - self._directory[0] < self.cache_seconds:
            return self._directory[1]
        return None

    async def municipality(self, oin: str, *, lookup_missing: bool = True) -> dict[str, Any] | None:
        """The municipality with this OIN. All municipalities are read in one paged list
        and kept like single look-ups (``cache_seconds``); an OIN missing from that list
        (e.g. added to the registry since) is looked up on its own unless
        ``lookup_missing`` is false."""
        directory = self._directory_fresh()
        if directory is None and self.cache_seconds > 0:
            async with self._lock("directory"):
                directory = self._directory_fresh()
                if directory is None:
                    items = await self._all_pages("/v1/organisations", {"type": "municipality"})
                    if items is not None:
                        directory = {str(o["oin"]): o for o in items if o.get("oin")}
                        self._directory = (time.monotonic(), directory)
        if directory is not None and oin in directory:
            return dict(directory[oin])
        if directory is not None and not lookup_missing:
            return None
        return await self.organisation_by_oin(oin, "municipality")

    def cached_municipality(self, oin: str) -> dict[str, Any] | None:
        """What we know without calling the registry (fresh cache entries only)."""
        directory = self._directory_fresh()
        if directory is not None and oin in directory:
            return dict(directory[oin])
        hit, value = self._cached(f"oin:municipality:{oin}")
        return dict(value) if hit and value else None

    async def usages(self, municipality_id: str, facility_id: str) -> list[dict[str, Any]]:
        """The municipality's usages of the facility. With ``usage_cache_seconds`` > 0 the
        facility's active usages are read for all municipalities at once and reused that
        long (a burst of enrollments costs a few registry calls, not one each)."""
        if self.usage_cache_seconds > 0:
            by_municipality = await self._facility_usages(facility_id)
            if by_municipality is not None:
                return [dict(u) for u in by_municipality.get(municipality_id, [])]
        params = {"municipalityId": municipality_id, "facilityId": facility_id, "pageSize": "100"}
        data = await self._get("/v1/usages", params)
        items = data.get("items", []) if isinstance(data, dict) else []
        return [u for u in items if isinstance(u, dict)]

    async def _facility_usages(self, facility_id: str) -> dict[str, list[dict[str, Any]]] | None:
        def fresh() -> dict[str, list[dict[str, Any]]] | None:
            hit = self._usages.get(facility_id)
            if hit and time.monotonic() - hit[0] < self.usage_cache_seconds:
                return hit[1]
            return None

        found = fresh()
        if found is not None:
            return found
        async with self._lock(f"usages:{facility_id}"):
            found = fresh()
            if found is not None:
                return found
            items = await self._all_pages(
                "/v1/usages", {"facilityId": facility_id, "status": "active"}
            )
            if items is None:
                return None
            by_municipality: dict[str, list[dict[str, Any]]] = {}
            for usage in items:
                if usage.get("facilityId") in (None, facility_id):
                    by_municipality.setdefault(str(usage.get("municipalityId")), []).append(usage)
            self._usages[facility_id] = (time.monotonic(), by_municipality)
            while len(self._usages) > 64:
                self._usages.pop(next(iter(self._usages)))
            return by_municipality
