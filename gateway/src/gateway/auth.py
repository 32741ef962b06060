"""Authentication at the edge: the bearer token (verified once, then reused from the
verifier's cache: :class:`servicekit.auth.TokenVerifier`), the route rule's scope, and the
caller's rate limit."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import time

from cachetools import LRUCache

from servicekit.auth import Principal, TokenVerifier
from servicekit.errors import InsufficientScope, TooManyRequests, Unauthorized

from .config import Settings
from .exchange import Exchange
from .metrics import GatewayMetrics
from .ratelimit import Policy, RateLimiter
from .routes import Auth, Rule

BEARER_REQUIRED = {"WWW-Authenticate": 'Bearer realm="samen"'}
FAILED_ATTEMPTS = "Too many failed attempts; slow down."


class Gatekeeper:
    """Decides whether a request may pass; raises the problem to answer when not."""

    def __init__(
        self,
        settings: Settings,
        verifier: TokenVerifier,
        limiter: RateLimiter | None,
        metrics: GatewayMetrics,
    ) -> None:
        self.verifier = verifier
        self.limiter = limiter if settings.rate_limit_enabled else None
        self.metrics = metrics
        self.trust_forwarded_for = settings.trust_forwarded_for
        self.anonymous_policy = Policy(
            settings.rate_limit_anonymous_per_second, settings.rate_limit_anonymous_burst
        )
        self.client_policy = Policy(settings.rate_limit_per_second, settings.rate_limit_burst)
        # Address buckets that failed authentications left empty, with the monotonic time
        # a token is back: until then, tokens from there are refused before their (costly)
        # signature check. Local to this process: another replica learns it after one
        # failed check of its own.
        self.emptied: LRUCache[str, float] = LRUCache(10_000)

    async def admit(self, ex: Exchange, rule: Rule) -> None:
        """Authenticate and charge the rate limit; rate-limit headers go on the answer."""
        if self.emptied and rule.auth is not Auth.NONE and b"authorization" in ex.headers:
            self._refuse_unverified(ex)
        try:
            principal = await self.authenticate(ex.headers, rule)
        except (Unauthorized, InsufficientScope) as refused:
            self.metrics.auth_failures.labels(ex.route_name, str(refused.status)).inc()
            # Failed attempts spend the caller's IP budget: guessing tokens (each one a
            # signature check) is throttled like any anonymous traffic.
            await self._charge(ex, None, FAILED_ATTEMPTS, admitted=False)
            raise
        if rule.limited:
            await self._charge(ex, principal, "Too many requests; slow down.", admitted=True)

    async def authenticate(self, headers: dict[bytes, bytes], rule: Rule) -> Principal | None:
        """The verified caller, or None for anonymous calls; raises 401/403 problems."""
        if rule.auth is Auth.NONE:
            return None
        raw = headers.get(b"authorization")
        if raw is None:
            if rule.auth is Auth.OPTIONAL:
                return None
            # RFC 6750 3.1: no error code when the request had no credentials at all.
            raise Unauthorized("A bearer token is required.", headers=BEARER_REQUIRED)
        scheme, credentials = split_authorization(raw)
        if scheme.lower() != "bearer" or not credentials or " " in credentials:
            raise Unauthorized(
                "The Authorization header must be 'Bearer <token>'.", error="invalid_request"
            )
        principal = await self.verify(credentials)
        if rule.scope is not None and rule.scope not in principal.scopes:
            raise InsufficientScope([rule.scope])
        return principal

    def _refuse_unverified(self, ex: Exchange) -> None:
        """429 before any signature check when failed authentications from the caller's
        address emptied its bucket; a token verified before (in the verifier's cache, no
        signature check to spare) goes on to its own limits."""
        address = self._client_ip(ex)
        until = self.emptied.get(address)
        if until is None:
            return
        wait = until - time.monotonic()
        if wait <= 0:
            self.emptied.pop(address, None)
            return
        if split_authorization(ex.headers[b"authorization"])[1] in self.verifier:
            return
        self.metrics.rate_limited.labels(ex.route_name).inc()
        raise TooManyRequests(FAILED_ATTEMPTS, retry_after=math.ceil(wait))

    async def verify(self, token: str) -> Principal:
        """The verified principal of a bearer token (cached by the verifier)."""
        return await self.verifier.principal(token)

    async def _charge(
        self, ex: Exchange, principal: Principal | None, refusal: str, *, admitted: bool
    ) -> None:
        """Take a token from the caller's bucket; 429 when it is empty. Its headers go on
        the 429 and on the answers of admitted requests."""
        if self.limiter is None:
            return
        if principal is not None and principal.client_id:
            decision = await self.limiter.hit(client_bucket(principal), self.client_policy)
        else:
            address = self._client_ip(ex)
            decision = await self.limiter.hit("ip:" + address, self.anonymous_policy)
            if not admitted and decision.tokens < 1.0:
                # This failed attempt left the bucket empty: the next tokens from here
                # are refused unverified until it has one again.
                refill = (1.0 - decision.tokens) / decision.policy.rate
                self.emptied[address] = time.monotonic() + refill
        if not decision.allowed:
            self.metrics.rate_limited.labels(ex.route_name).inc()
            ex.response_headers.extend(decision.headers())
            raise TooManyRequests(refusal, retry_after=decision.retry_after)
        if admitted:
            ex.response_headers.extend(decision.headers())

    def _client_ip(self, ex: Exchange) -> str:
        """The caller's address bucket (:func:`address_bucket`)."""
        if self.trust_forwarded_for:
            forwarded = ex.headers.get(b"x-forwarded-for")
            if forwarded:
                # The trusted load balancer appends the address it saw: the last entry.
                # Entries to its left were sent by the client and could name anyone, so
                # taking the first would let a caller pick a fresh bucket per request.
                # An entry that is no address (after its port) counts as the TCP peer.
                bucket = ip_bucket(forwarded.rsplit(b",", 1)[-1].strip().decode("latin-1"))
                if bucket is not None:
                    return bucket
        return address_bucket(ex.client_ip)


def split_authorization(raw: bytes) -> tuple[str, str]:
    """An Authorization header's scheme and credentials."""
    scheme, _, credentials = raw.decode("latin-1").partition(" ")
    return scheme, credentials.strip()


def address_bucket(address: str) -> str:
    """The anonymous bucket of a client address: the address itself for IPv4, its /64 for
    IPv6 (one subscriber usually holds a whole /64, so per-address buckets would let it
    spread requests over 2**64 of them); a text that is no address is its own bucket."""
    return ip_bucket(address) or address


# Per request otherwise: the same addresses come back, and parsing is the costly part.
@functools.lru_cache(maxsize=10_000)
def ip_bucket(address: str) -> str | None:
    """:func:`address_bucket` of an address, perhaps with a port (``203.0.113.7:5555``,
    ``[2001:db8::1]:5555``, as load balancers write them); None when it is no address."""
    if address.startswith("["):
        address = address[1:].partition("]")[0]
    elif address.count(":") == 1:
        address = address.partition(":")[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_bucket(principal: Principal) -> str:
    """A client's bucket, and within it one per person it acts for: a portal's or an app's
    users do not share one budget (one person cannot use up everyone's). A client acting
    for itself (client credentials: ``sub`` is the client) has one bucket. The subject is
    hashed: bucket keys may sit in Redis, and a subject is never written down as it is."""
    assert principal.client_id
    return _client_bucket(principal.client_id, principal.subject)


# Per request otherwise: the same callers come back, and the hash is the costly part.
@functools.lru_cache(maxsize=10_000)
def _client_bucket(client_id: str, subject: str) -> str:
    if not subject or subject == client_id:
        return "azp:" + client_id
    person = hashlib.blake2b(subject.encode(), digest_size=12).hexdigest()
    return f"azp:{client_id}:sub:{person}"
