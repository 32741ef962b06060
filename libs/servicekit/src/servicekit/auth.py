"""Bearer-token verification for services and the gateway (defence in depth).

Tokens are JWTs issued by the identity service. Verified: signature against the issuer's
JWKS (fetched, cached, refreshed at most once per unknown ``kid`` and never more often
than ``min_refresh_interval``), algorithm against an allow-list (never ``none`` or
HMAC), ``iss``, ``aud``, ``exp`` and ``nbf`` with a small leeway.

Verified tokens are remembered (:class:`TokenVerifier`, ``cache_size``), with the
:class:`Principal` made from them: a client sends the same token on every request until it
expires, and an RSA verification plus claim checks cost more than the rest of a simple
read. An entry is keyed by the exact token string (so it can only ever answer for the
bytes that were verified), lives until the token's ``exp`` (without leeway: after that the
full check runs again and applies the leeway itself) or ``cache_seconds``, whichever is
first, and only while the key set it was verified against is the current one — any JWKS
refresh (rotation, a removed key) drops the cache. Failed verifications are never cached.

Revoked tokens: with a :class:`servicekit.revocations.RevocationFeed` (``revocations``),
a token whose ``jti`` identity has published as revoked is refused, cached or not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from fastapi import Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jws import extract_compact

from .errors import Forbidden, InsufficientScope, Unauthorized
from .jwks import JwksCache, http_jwks_fetcher
from .revocations import RevocationFeed, feed_from_settings
from .settings import ServiceSettings

logger = logging.getLogger("servicekit.auth")

ALLOWED_ALGORITHMS = ("RS256", "PS256", "ES256")
# Clock difference allowed on ``exp`` and ``nbf``.
LEEWAY_SECONDS = 30

LOA_LOW = "http://eidas.europa.eu/LoA/low"
LOA_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LOA_HIGH = "http://eidas.europa.eu/LoA/high"
LOA_ORDER = {LOA_LOW: 1, LOA_SUBSTANTIAL: 2, LOA_HIGH: 3}


def loa_at_least(achieved: str | None, required: str) -> bool:
    return LOA_ORDER.get(achieved or "", 0) >= LOA_ORDER[required]


# The organisation type of the platform operator's staff in tokens.
OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the verified token says."""

    subject: str
    client_id: str | None = None
    org_id: str | None = None
    org_type: str | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    acr: str | None = None
    token_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        scope = claims.get("scope") or ""
        scopes = scope.split() if isinstance(scope, str) else list(scope)
        roles = claims.get("roles") or []
        return cls(
            subject=str(claims.get("sub", "")),
            client_id=claims.get("azp") or claims.get("client_id"),
            org_id=claims.get("org_id"),
            org_type=claims.get("org_type"),
            roles=frozenset(roles if isinstance(roles, list) else [roles]),
            scopes=frozenset(scopes),
            acr=claims.get("acr"),
            token_id=claims.get("jti"),
            claims=claims,
        )

    @property
    def is_operator(self) -> bool:
        """Staff of the platform operator (its token names the operator's identifier)."""
        return self.org_type == OPERATOR and bool(self.org_id)

    def acts_for(self, org_type: str, org_id: str | None) -> bool:
        """Staff of this organisation: the token names its type and identifier (OIN, KvK
        number)."""
        return self.org_type == org_type and bool(org_id) and self.org_id == org_id

    def require_org(self, org_id: str | None, what: str = "this resource") -> None:
        """Raise 403 unless the caller acts for organisation ``org_id``."""
        if not self.org_id or self.org_id != org_id:
            raise Forbidden(f"Only staff of the owning organisation may change {what}.")


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified token's caller, until when (wall clock) and against which key set
    (:attr:`JwksCache.generation`) the verification may be reused."""

    principal: Principal
    until: float
    generation: int


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        issuer: str,
        audience: str | list[str],
        algorithms: list[str] | tuple[str, ...] = ALLOWED_ALGORITHMS,
        leeway: int = LEEWAY_SECONDS,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
        revocations: RevocationFeed | None = None,
        cache_seconds: float | None = None,
    ) -> None:
        unsafe = [a for a in algorithms if a not in ALLOWED_ALGORITHMS]
        if unsafe:
            raise ValueError(f"algorithms not allowed: {unsafe}")
        self.jwks = jwks
        self.issuer = issuer
        self.audiences = [audience] if isinstance(audience, str) else list(audience)
        self.algorithms = list(algorithms)
        self.claims_registry = jwt.JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            exp={"essential": True},
            sub={"essential": True},
        )
        self.cache_size = cache_size
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._verified: LRUCache[str, Verified] = LRUCache(max(1, cache_size))
        self.cache_hits = 0
        self.verifications = 0  # full checks (signature and claims), passed or not
        self.revocations = revocations
        # The ids of revoked tokens (one membership test per request); empty without a feed.
        self._revoked: Container[object] = () if revocations is None else revocations.revoked

    @classmethod
    def from_settings(cls, settings: ServiceSettings, **cache: Any) -> TokenVerifier:
        """The verifier a part's ``AUTH_*`` settings describe: identity's keys fetched over
        HTTP, and its revocation feed when a client for it is configured; ``cache``:
        ``cache_size`` and ``cache_seconds``."""
        return cls(
            JwksCache(http_jwks_fetcher(settings.auth_jwks_url)),
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            algorithms=settings.auth_algorithms,
            leeway=settings.auth_leeway_seconds,
            revocations=feed_from_settings(settings),
            **cache,
        )

    def is_revoked(self, jti: object) -> bool:
        """Has identity published this token id as revoked?"""
        return jti in self._revoked

    async def verify(self, token: str) -> dict[str, Any]:
        """Verified claims, or :class:`Unauthorized`."""
        return dict((await self._checked(token)).principal.claims)

    async def principal(self, token: str) -> Principal:
        """The verified caller, or :class:`Unauthorized`; the same object for every use of
        a token while it is cached."""
        return (await self._checked(token)).principal

    def __contains__(self, token: object) -> bool:
        """Is this token's verification cached?"""
        return token in self._verified

    async def _checked(self, token: str) -> Verified:
        cached = self._verified.get(token)
        if cached is not None:
            # jwks.get keeps its own refresh schedule (a stale key set is refetched),
            # so the generation check below sees rotations as soon as they are fetched.
            await self.jwks.get(None)
            if cached.generation == self.jwks.generation and self._clock() < cached.until:
                if cached.principal.token_id in self._revoked:
                    self._verified.pop(token, None)
                    raise Unauthorized("The token has been revoked.")
                self.cache_hits += 1
                return cached
            self._verified.pop(token, None)
        self.verifications += 1
        claims = await self._verify(token)
        if claims.get("jti") in self._revoked:
            raise Unauthorized("The token has been revoked.")
        principal = Principal.from_claims(claims)
        checked = Verified(principal, self._reuse_until(claims), self.jwks.generation)
        if self.cache_size > 0 and self._clock() < checked.until:
            self._verified[token] = checked
        return checked

    def _reuse_until(self, claims: dict[str, Any]) -> float:
        """Until when a verification may be reused: the token's ``exp``, or earlier by
        ``cache_seconds``; never for a token without a numeric ``exp``."""
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            return float("-inf")
        until = float(expires)
        if self.cache_seconds is not None:
            until = min(until, self._clock() + self.cache_seconds)
        return until

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError) as exc:
            raise Unauthorized("The token is malformed.") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise Unauthorized("The token's signing algorithm is not accepted.")
        if not is_access_token_type(header.get("typ")):
            # An ID token or any other JWT of the issuer is not an access token (RFC 9068 §4).
            raise Unauthorized("The token is not an access token (typ at+jwt).")
        kid = header.get("kid")
        keys = await self.jwks.get(kid)
        try:
            decoded = jwt.decode(token, keys, algorithms=self.algorithms)
        except InvalidKeyIdError as exc:
            raise Unauthorized("The token was signed with an unknown key.") from exc
        except (JoseError, ValueError) as exc:
            raise Unauthorized("The token's signature is invalid.") from exc
        claims = dict(decoded.claims)
        try:
            self.claims_registry.validate(claims)
        except JoseError as exc:
            raise Unauthorized(_claim_problem(exc)) from exc
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else list(aud or [])
        if not set(auds) & set(self.audiences):
            raise Unauthorized("The token is not meant for this audience.")
        return claims


def is_access_token_type(typ: object) -> bool:
    """Whether a JWT header's ``typ`` marks an access token (RFC 9068 §2.1; media types
    are case-insensitive and may carry the ``application/`` prefix)."""
    return isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt")


def _claim_problem(exc: JoseError) -> str:
    claim = getattr(exc, "claim", None)
    if type(exc).__name__ == "ExpiredTokenError":
        return "The token has expired."
    if type(exc).__name__ == "MissingClaimError":
        return f"The token lacks the '{claim}' claim."
    if claim == "nbf":
        return "The token is not valid yet."
    if claim == "iss":
        return "The token was issued by an unknown issuer."
    return "The token's claims are invalid."


class BearerAuth(OAuth2):
    """The bearer-token dependency of one service: the OpenAPI security scheme (OAuth2
    client credentials via the identity service) and the check in one, so FastAPI solves
    one dependency per request for it.

    Called with the operation's scopes (``Security(auth, scopes=[...])``), it answers the
    verified :class:`Principal`, also kept on ``request.state.principal``; 401 problem+json
    without a valid token, 403 when it lacks a scope. ``optional``: operations anonymous
    callers may use get ``None`` without a token, and a sent token is verified but its
    scopes are not required (the operation needs none; the service decides what the
    principal sees). The verifier lives on ``app.state.token_verifier``."""

    def __init__(self, token_url: str, scopes: dict[str, str], optional: bool = False) -> None:
        flows = OAuthFlows(
            clientCredentials=OAuthFlowClientCredentials(tokenUrl=token_url, scopes=scopes)
        )
        super().__init__(flows=flows, scheme_name="oauth2", auto_error=False)
        self.optional = optional

    async def __call__(  # type: ignore[override]
        self, request: Request, security_scopes: SecurityScopes
    ) -> Principal | None:
        token = bearer_token(request)
        if token is None:
            if self.optional:
                return None
            raise Unauthorized("A bearer token is required.", error="invalid_request")
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = await verifier.principal(token)
        if not self.optional:
            missing = [s for s in security_scopes.scopes if s not in principal.scopes]
            if missing:
                raise InsufficientScope(security_scopes.scopes)
        request.state.principal = principal
        return principal


def bearer_token(request: Request) -> str | None:
    """The request's bearer token; None without an Authorization header, 401 when the
    header is not ``Bearer <token>``."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials or " " in credentials.strip():
        raise Unauthorized(
            "The Authorization header must be 'Bearer <token>'.", error="invalid_request"
        )
    return credentials.strip()


# ``openapi_extra`` of an operation that anonymous callers may use: FastAPI appends it to
# the operation's security requirements, so the document reads "a token with these scopes,
# or none" (OpenAPI's empty requirement object).
ANONYMOUS_ALLOWED: dict[str, Any] = {"security": [{}]}


def make_public_auth(token_url: str, scopes: dict[str, str]) -> BearerAuth:
    """The dependency of operations that anonymous callers may use (the public
    catalogue): ``None`` without a token; a sent token is verified (401 when bad), but its
    scopes are not required. The route declares ``openapi_extra=ANONYMOUS_ALLOWED``."""
    return BearerAuth(token_url, scopes, optional=True)


def make_auth(token_url: str, scopes: dict[str, str]) -> BearerAuth:
    """The dependency of one service's operations that need a token.

    Usage: ``principal: Annotated[Principal, Security(auth, scopes=["registry:write"])]``
    where ``auth = make_auth(...)``."""
    return BearerAuth(token_url, scopes)


def require_scopes(authenticate: Callable[..., Any], *scopes: str) -> Any:
    """``Depends``-style marker: the verified :class:`Principal` holding ``scopes``.

    ``principal: Principal = require_scopes(auth, "registry:write")`` is the same as
    ``Security(auth, scopes=["registry:write"])``; the scopes also appear in OpenAPI."""
    return Security(authenticate, scopes=list(scopes))
