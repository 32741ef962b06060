"""Authentication at the edge: the bearer token (verified once, then reused from the
verifier's cache: :class:`servicekit.auth.TokenVerifier`), the route rule's scope, and the
caller's rate limit."""

from __future__ import annotations

import functools
import hashlib
import ipaddress

from servicekit.auth import Principal, TokenVerifier
from servicekit.errors import InsufficientScope, TooManyRequests, Unauthorized

from .config import Settings
from .exchange import Exchange
from .metrics import GatewayMetrics
from .ratelimit import Policy, RateLimiter
from .routes import Auth, Rule

BEARER_REQUIRED = {"WWW-Authenticate": 'Bearer realm="samen"'}


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

    async def admit(self, ex: Exchange, rule: Rule) -> None:
        """Authenticate and charge the rate limit; rate-limit headers go on the answer."""
        try:
            principal = await self.authenticate(ex.headers, rule)
        except (Unauthorized, InsufficientScope) as refused:
            self.metrics.auth_failures.labels(ex.route_name, str(refused.status)).inc()
            # Failed attempts spend the caller's IP budget: guessing tokens (each one a
            # signature check) is throttled like any anonymous traffic.
            await self._charge(ex, None, "Too many failed attempts; slow down.", admitted=False)
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
        scheme, _, credentials = raw.decode("latin-1").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials or " " in credentials:
            raise Unauthorized(
                "The Authorization header must be 'Bearer <token>'.", error="invalid_request"
            )
        principal = await self.verify(credentials)
        if rule.scope is not None and rule.scope not in principal.scopes:
            raise InsufficientScope([rule.scope])
        return principal

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
            decision = await self.limiter.hit("ip:" + self._client_ip(ex), self.anonymous_policy)
        if not decision.allowed:
            self.metrics.rate_limited.labels(ex.route_name).inc()
            ex.response_headers.extend(decision.headers())
            raise TooManyRequests(refusal, retry_after=decision.retry_after)
        if admitted:
            ex.response_headers.extend(decision.headers())

    def _client_ip(self, ex: Exchange) -> str:
        address = ex.client_ip
        if self.trust_forwarded_for:
            forwarded = ex.headers.get(b"x-forwarded-for")
            if forwarded:
                # The trusted load balancer appends the address it saw: the last entry.
                # Entries to its left were sent by the client and could name anyone, so
                # taking the first would let a caller pick a fresh bucket per request.
                address = forwarded.rsplit(b",", 1)[-1].strip().decode("latin-1")
        return address_bucket(address)


def address_bucket(address: str) -> str:
    """The anonymous bucket of a client address: the address itself for IPv4, its /64 for
    IPv6 (one subscriber usually holds a whole /64, so per-address buckets would let it
    spread requests over 2**64 of them)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


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
