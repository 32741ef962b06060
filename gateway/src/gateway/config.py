"""Gateway settings: environment variables with the `GATEWAY_` prefix.

Dicts and lists are read as JSON from the environment, e.g.
``GATEWAY_READ_TIMEOUTS='{"procurement": 60}'`` or ``GATEWAY_CORS_ORIGINS='["https://a.nl"]'``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    # Shared rate-limit buckets for several replicas; the plain REDIS_URL works too.
    redis_url: str = Field(
        default="", validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL")
    )

    identity_url: str = "http://127.0.0.1:8001"
    registry_url: str = "http://127.0.0.1:8002"
    procurement_url: str = "http://127.0.0.1:8003"
    portal_url: str = "http://127.0.0.1:8004"

    # Upstream connections: per-upstream pools so a slow service cannot starve the others.
    connect_timeout: float = 2.0
    read_timeout: float = 30.0
    # Per-upstream overrides of the read timeout, keyed by upstream name.
    read_timeouts: dict[str, float] = Field(default_factory=dict)
    pool_size: int = 100
    # Below the services' own keep-alive (uvicorn: 5 s) so we never reuse a socket the
    # upstream is about to close.
    keepalive_seconds: float = 4.0
    # Extra attempts for idempotent methods, and only when the connection could not be made.
    connect_retries: int = 1

    # Circuit breaker per upstream.
    breaker_failures: int = 5
    breaker_open_seconds: float = 10.0

    # Rate limits (token bucket): sustained rate per second and burst size.
    rate_limit_enabled: bool = True
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 200
    # Anonymous callers (the public catalogue, OIDC endpoints, identity's public API) are
    # limited per client address (IPv6: per /64), more tightly; the burst leaves room for a
    # login flow's redirects and a catalogue page's few API calls.
    rate_limit_anonymous_per_second: float = 20.0
    rate_limit_anonymous_burst: int = 100
    # How long a rate-limit decision may wait for Redis before the request is let through.
    rate_limit_redis_timeout: float = 0.5
    # Take the client IP from X-Forwarded-For: only behind a load balancer that appends the
    # address it saw (the last entry is used; earlier ones are the client's own words).
    # Off by default: without such a balancer a caller could name any address and so pick
    # a fresh anonymous rate-limit bucket per request.
    trust_forwarded_for: bool = False

    # Per-route body limits: public path prefix -> bytes (the longest matching prefix wins).
    body_limits: dict[str, int] = Field(default_factory=dict)
    max_header_bytes: int = 16_384

    cors_origins: list[str] = Field(default_factory=list)
    cors_max_age: int = 600

    # OpenAPI documents are fetched from the upstreams and cached this long.
    docs_cache_seconds: float = 30.0
    # The portal's public OAuth client at the identity service (authorization code with
    # PKCE; redirect URI <public URL>/docs/oauth2-redirect), used by Swagger UI's log-in.
    docs_client_id: str = "samen-gateway-docs"
    # The gateway's client at identity (a resource server: reads the revocation feed);
    # development defaults from identity's seed, production sets the private JWK instead.
    auth_client_id: str = "samen-gateway"
    auth_client_secret: str = "samen-gateway-dev-secret"  # noqa: S105
    # Verified tokens are cached (by their exact bytes) at most this long.
    token_cache_seconds: float = 60.0

    def upstreams(self) -> dict[str, str]:
        return {
            "identity": self.identity_url,
            "registry": self.registry_url,
            "procurement": self.procurement_url,
            "portal": self.portal_url,
        }

    def read_timeout_for(self, upstream: str) -> float:
        return self.read_timeouts.get(upstream, self.read_timeout)


@lru_cache
def get_settings() -> Settings:
    return Settings()
