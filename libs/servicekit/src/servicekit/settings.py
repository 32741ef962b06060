"""Settings base: configuration only by environment variables (12-factor).

Each service subclasses :class:`ServiceSettings` with its own prefix (``REGISTRY_``,
``IDENTITY_`` …) so that several services can share one environment (``make run``),
while the OpenTelemetry variables keep their standard, unprefixed names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``model_config`` with an ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="SAMEN_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means a SQLite file under .data/",
    )
    # PostgreSQL connections per process (unset: the service's own default): the pool keeps
    # db_pool_size open and opens up to db_max_overflow more under bursts. Every pod's
    # pool_size + max_overflow, times the most pods the autoscaler runs, must fit the
    # connection pooler's server connections (deploy/README.md, "Connections").
    db_pool_size: int | None = Field(default=None, ge=1)
    db_max_overflow: int | None = Field(default=None, ge=0)
    redis_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    # Public base URL of the gateway, used in OpenAPI `servers` and in absolute links.
    public_url: str = "http://127.0.0.1:8000"
    # Largest request body a service accepts (bytes).
    max_body_bytes: int = 1_048_576

    # Bearer-token verification (the identity service is the issuer).
    auth_issuer: str = "http://127.0.0.1:8000"
    auth_jwks_url: str = "http://127.0.0.1:8001/auth/jwks"
    auth_audience: str = "samen"
    auth_algorithms: list[str] = ["RS256", "PS256", "ES256"]
    auth_leeway_seconds: int = 30
    # Identity's revocation feed (servicekit.revocations): empty means next to the JWKS
    # (``…/auth/revocations``). Polled every interval seconds; at most 5 so that a revoked
    # token is refused everywhere within 10 s.
    auth_revocations_url: str = ""
    auth_revocations_interval_seconds: float = Field(default=5.0, gt=0, le=5.0)
    # Where REDIS_URL is set, also take the revocations identity pushes over Redis pub/sub
    # (at once instead of at the next poll; servicekit.revocation_push.RevocationPush).
    auth_revocations_push: bool = True
    # This service's client at identity, registered as a resource server (it may read the
    # feed): private_key_jwt with the private JWK (JSON) in production, else the secret
    # (identity accepts client secrets in development only). No client id: revoked tokens
    # are not checked (logged at start-up and shown in the details).
    auth_client_id: str = ""
    auth_client_secret: str = ""
    auth_client_private_key_jwk: str = ""

    otel_exporter_otlp_endpoint: str = Field(
        default="",
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    otel_sdk_disabled: bool = Field(
        default=False, validation_alias=AliasChoices("OTEL_SDK_DISABLED")
    )

    def revocation_client(self) -> tuple[str, str, str]:
        """(client id, secret, private JWK) for identity's revocation feed."""
        return self.auth_client_id, self.auth_client_secret, self.auth_client_private_key_jwk

    def check_revocation_client(self) -> None:
        """Refuse to start in production with a revocation-feed client but no private key:
        identity refuses client secrets there, so revoked tokens would go on passing."""
        client_id, _secret, private_jwk = self.revocation_client()
        if self.environment == "production" and client_id and not private_jwk:
            raise RuntimeError(
                f"Client {client_id!r} reads identity's revocation feed with private_key_jwt: "
                "set its private JWK in production (deploy/README.md)."
            )

    def pool_options(self, **defaults: Any) -> dict[str, Any]:
        """Engine options for PostgreSQL: the service's ``defaults`` with the pool sizes
        set in the environment (``<PREFIX>DB_POOL_SIZE``, ``<PREFIX>DB_MAX_OVERFLOW``)."""
        options = dict(defaults)
        if self.db_pool_size is not None:
            options["pool_size"] = self.db_pool_size
        if self.db_max_overflow is not None:
            options["max_overflow"] = self.db_max_overflow
        return options

    def sqlite_default(self, name: str) -> str:
        return f"sqlite+aiosqlite:///.data/{name}.db"

    def database_url_of(self, service: str) -> str:
        """``DATABASE_URL``, or else the part's embedded SQLite file."""
        return self.database_url or self.sqlite_default(service)
