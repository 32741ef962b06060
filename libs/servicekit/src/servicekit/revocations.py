"""Revoked access tokens, as identity publishes them (its revocation feed).

Access tokens are self-contained JWTs, so a resource server would accept a revoked one
until it expires. Identity therefore publishes the ``jti`` of every access token revoked
before its expiry (RFC 7009 revocation, a replayed authorization code, a revoked or
reused refresh-token family, a logout) at ``POST /auth/revocations``, to clients
registered as resource servers, each entry with the token's expiry.

:class:`RevocationFeed` polls that feed every ``interval`` seconds (default 5, at most 5,
so a revocation reaches every service and the gateway within 10 s) and keeps the ids in a
:class:`RevocationList`; :class:`servicekit.auth.TokenVerifier` refuses a token whose
``jti`` is in it — one dictionary membership test per request, no call to identity.

Where Redis is configured (``<PREFIX>REDIS_URL``) the feed also listens on the pub/sub
channel :data:`CHANNEL`, on which identity pushes each revocation as it commits
(:class:`servicekit.revocation_push.RevocationPush`): a revoked token is then refused within moments instead of
seconds. Polling stays the authority and the fallback (a message lost while Redis was away
is in the next poll), and a message can only add revoked ids — never make a token valid —
so a rogue publisher can at worst refuse tokens that have not been revoked.

When identity cannot be reached the service keeps verifying with its last list (never
refusing every token, never accepting revoked ones it already knew) and says so: in
:meth:`RevocationFeed.details` (for the details endpoint; readiness never depends on
another service) and in the metric ``auth_revocation_feed_age_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
from joserfc import jwt
from joserfc.jwk import JWKRegistry
from prometheus_client.core import GaugeMetricFamily

from .revocation_push import RevocationPush

logger = logging.getLogger("servicekit.revocations")

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# An entry is kept this long after the token's expiry: verifiers accept a token until
# ``exp`` plus their leeway.
KEEP_AFTER_EXPIRY = 60.0
# The feed is called stale (details, logs) after this many poll intervals without success.
STALE_AFTER_INTERVALS = 3


class RevocationList:
    """Revoked token ids with their expiry; ``jti in revocation_list`` is the per-request
    check (a dictionary lookup: constant time, no allocation)."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def __contains__(self, jti: object) -> bool:
        try:
            return jti in self._expiry
        except TypeError:  # an unhashable claim value is no revoked id
            return False

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, jti: str, exp: float) -> None:
        known = self._expiry.get(jti)
        if known is None or exp > known:
            self._expiry[jti] = exp

    def prune(self, now: float) -> None:
        """Forget tokens that expired (plus :data:`KEEP_AFTER_EXPIRY`): nobody accepts them."""
        gone = [jti for jti, exp in self._expiry.items() if exp + KEEP_AFTER_EXPIRY < now]
        for jti in gone:
            del self._expiry[jti]


class ClientCredentials:
    """How a service authenticates to identity: ``private_key_jwt`` when a private JWK is
    configured (production), else ``client_secret_basic`` (identity allows that in
    development only)."""

    def __init__(
        self, client_id: str, secret: str = "", private_key_jwk: str = "", audience: str = ""
    ) -> None:
        self.client_id = client_id
        self.secret = secret
        self.audience = audience
        self.private_key = (
            JWKRegistry.import_key(json.loads(private_key_jwk)) if private_key_jwk else None
        )

    def assertion(self) -> str:
        """An RFC 7523 client assertion: one minute, single use (fresh ``jti``)."""
        assert self.private_key is not None
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 60,
        }
        alg = self.private_key.alg or "RS256"
        header = {"alg": alg, "typ": "JWT"}
        if self.private_key.kid:
            header["kid"] = self.private_key.kid
        return jwt.encode(header, claims, self.private_key, algorithms=[alg])

    def apply(self, form: dict[str, str]) -> httpx.BasicAuth | None:
        """Add the client authentication to ``form``; returns the Basic auth to send, if any."""
        if self.private_key is not None:
            form.update(
                client_id=self.client_id,
                client_assertion_type=CLIENT_ASSERTION_TYPE,
                client_assertion=self.assertion(),
            )
            return None
        return httpx.BasicAuth(self.client_id, self.secret)


FeedFetcher = Callable[[str | None], Awaitable[dict[str, Any]]]


def revocations_url(jwks_url: str) -> str:
    """Identity's feed next to its JWKS (``…/auth/jwks`` → ``…/auth/revocations``)."""
    return urljoin(jwks_url, "revocations")


def http_feed_fetcher(
    url: str,
    credentials: ClientCredentials,
    timeout: float = 3.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[FeedFetcher, Callable[[], Awaitable[None]]]:
    """A fetcher of the feed over HTTP, and the function that closes its connections."""
    client = httpx.AsyncClient(
        timeout=timeout, headers={"Accept": "application/json"}, transport=transport
    )

    async def fetch(since: str | None) -> dict[str, Any]:
        form: dict[str, str] = {} if since is None else {"since": since}
        auth = credentials.apply(form)
        # Always a form body (also an empty one): identity reads its endpoints' forms only.
        response = await client.post(
            url,
            content=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=auth or httpx.USE_CLIENT_DEFAULT,
        )
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    return fetch, client.aclose


class RevocationFeed:
    """Polls identity's revocation feed and keeps :attr:`revoked` up to date (and, with a
    :class:`RevocationPush`, also takes the revocations identity pushes)."""

    def __init__(
        self,
        fetch: FeedFetcher,
        interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        on_close: Callable[[], Awaitable[None]] | None = None,
        push_url: str = "",
    ) -> None:
        self.fetch = fetch
        self.interval = interval
        self.revoked = RevocationList()
        self.push = RevocationPush(push_url, self.revoked) if push_url else None
        self._push_task: asyncio.Task[None] | None = None
        self._clock = clock
        self._on_close = on_close
        self._cursor: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_success: float | None = None  # wall clock
        self.last_error: str | None = None
        self.failures = 0  # consecutive

    async def poll(self) -> bool:
        """One poll; True when the list is now up to date. Never raises."""
        try:
            data = await self.fetch(self._cursor)
            entries = data.get("revoked")
            cursor = data.get("cursor")
            if not isinstance(entries, list) or not isinstance(cursor, str):
                raise ValueError("not a revocation feed")
            for entry in entries:
                self.revoked.add(str(entry["jti"]), float(entry["exp"]))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self.failures += 1
            self.last_error = type(exc).__name__
            if self.failures == 1 or self.failures % 60 == 0:
                logger.warning(
                    "revocation feed unreachable (%s, %d attempts); keeping the last list "
                    "of %d revoked tokens",
                    self.last_error,
                    self.failures,
                    len(self.revoked),
                )
            return False
        now = self._clock()
        self.revoked.prune(now)
        if self.failures:
            logger.info("revocation feed reachable again after %d failures", self.failures)
        self._cursor = cursor
        self.last_success = now
        self.failures = 0
        self.last_error = None
        return True

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        """First poll now (so a restarted service knows the list at once), then every
        interval in the background."""
        if self._task is None:
            await self.poll()
            self._task = asyncio.create_task(self._loop_after_first())
        if self.push is not None and self._push_task is None:
            self.push.on_subscribed = self.poll
            self._push_task = asyncio.create_task(self.push.run())

    async def _loop_after_first(self) -> None:
        await asyncio.sleep(self.interval)
        await self.run()

    async def aclose(self) -> None:
        for task in (self._task, self._push_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._push_task = None
        if self._on_close is not None:
            await self._on_close()

    def age(self) -> float | None:
        """Seconds since the last successful poll (None: never succeeded)."""
        return None if self.last_success is None else max(0.0, self._clock() - self.last_success)

    def details(self) -> dict[str, Any]:
        """The feed's state for a details endpoint (health+json style): ``pass`` while
        fresh, ``warn`` when identity has not answered for several intervals (tokens are
        then checked against the last list)."""
        age = self.age()
        fresh = age is not None and age <= self.interval * STALE_AFTER_INTERVALS
        out: dict[str, Any] = {
            "status": "pass" if fresh else "warn",
            "revokedTokens": len(self.revoked),
            "pollIntervalSeconds": self.interval,
            "lastSuccessAt": (
                None
                if self.last_success is None
                else datetime.fromtimestamp(self.last_success, UTC).isoformat()
            ),
            "ageSeconds": None if age is None else round(age, 1),
        }
        if self.push is not None:
            # Informative only: polling alone keeps the promise of 10 seconds.
            out["push"] = "listening" if self.push.connected else "unavailable (polling only)"
        if not fresh:
            out["output"] = (
                "identity's revocation feed has not been read yet"
                if age is None
                else "identity's revocation feed is unreachable; using the last list"
            )
            if self.last_error:
                out["output"] += f" ({self.last_error})"
        return out


class RevocationFeedCollector:
    """Prometheus collector: the feed's age (seconds since the last successful poll; -1
    when it never succeeded) and the number of revoked tokens known."""

    def __init__(self, feed: RevocationFeed) -> None:
        self.feed = feed

    def collect(self) -> Iterable[GaugeMetricFamily]:
        age = self.feed.age()
        yield GaugeMetricFamily(
            "auth_revocation_feed_age_seconds",
            "Seconds since identity's revocation feed was last read successfully (-1: never)",
            value=-1.0 if age is None else age,
        )
        yield GaugeMetricFamily(
            "auth_revocation_feed_entries",
            "Revoked, not yet expired access tokens known to this process",
            value=len(self.feed.revoked),
        )


def feed_from_settings(
    settings: Any, transport: httpx.AsyncBaseTransport | None = None
) -> RevocationFeed | None:
    """The feed of a service's settings (:class:`servicekit.settings.ServiceSettings`), or
    None when no client for identity is configured (revocation is then not checked).
    ``transport``: where the requests go instead of the network (tests)."""
    client_id, secret, private_key_jwk = settings.revocation_client()
    if not client_id:
        logger.warning("no client for identity's revocation feed: revoked tokens are accepted")
        return None
    url = settings.auth_revocations_url or revocations_url(settings.auth_jwks_url)
    credentials = ClientCredentials(client_id, secret, private_key_jwk, settings.auth_issuer)
    fetch, close = http_feed_fetcher(url, credentials, transport=transport)
    return RevocationFeed(
        fetch,
        settings.auth_revocations_interval_seconds,
        on_close=close,
        push_url=settings.redis_url if settings.auth_revocations_push else "",
    )


def revocation_details(verifier: Any) -> dict[str, Any]:
    """The revocation feed's state of a :class:`~servicekit.auth.TokenVerifier` (for a
    details endpoint)."""
    feed: RevocationFeed | None = getattr(verifier, "revocations", None)
    if feed is None:
        return {"status": "warn", "output": "revocation is not checked (no feed configured)"}
    return feed.details()
