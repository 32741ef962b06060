"""identity settings: environment variables with the `IDENTITY_` prefix."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.auth import LEEWAY_SECONDS
from servicekit.settings import ServiceSettings

# Only for development: a fixed key so `make run` works with no configuration. Production
# refuses to start with it (see ``Settings.check_production``).
DEV_KEY_ENCRYPTION_KEY = "samen-dev-only-key-encryption-key-change-me"
DEV_SECRET = "samen-dev-only-secret-change-me"  # noqa: S105


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    # The OP's issuer identifier: the gateway's public URL (tokens name it in `iss`).
    issuer: str = "http://127.0.0.1:8000"
    # Encrypts private signing keys at rest (any string; a Fernet key is derived from it).
    key_encryption_key: str = DEV_KEY_ENCRYPTION_KEY
    # Earlier key-encryption keys, JSON list: still read (never written) while a rotation
    # of the key-encryption key is under way (`python -m identity rotate-kek`; README).
    previous_key_encryption_keys: list[str] = Field(default_factory=list)
    # Secret for pairwise subject identifiers, person hashes and CSRF tokens.
    secret: str = DEV_SECRET
    # client_secret_basic is a development convenience only (NL GOV: private_key_jwt).
    allow_client_secret_basic: bool = True
    # The built-in simulators of DigiD, eHerkenning, eIDAS and Yivi.
    simulators_enabled: bool = True
    # Production refuses to start with simulators unless this explicit setting is true.
    allow_simulators_in_production: bool = False
    # Production upstreams per means (generic OIDC connector), JSON: {"digid": {"issuer":
    # ..., "authorization_endpoint": ..., "token_endpoint": ..., "jwks_uri": ...,
    # "client_id": ..., "client_secret": ...}}. A configured means replaces its simulator.
    # Instead of a secret: "token_endpoint_auth_method": "private_key_jwt" with
    # "private_key_jwk": {the broker's private JWK for that means} (broker/connectors.py).
    upstreams: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Organisations (OIN/KvK) whose users are platform administrators.
    admin_org_ids: list[str] = Field(default_factory=lambda: ["00000001009876543000"])

    access_token_lifetime: int = Field(default=3600, le=3600)
    public_client_access_token_lifetime: int = Field(default=900, le=900)
    id_token_lifetime: int = Field(default=300, le=300)
    code_lifetime: int = Field(default=60, le=60)
    # Refresh tokens (NL GOV OAuth profile: they expire): each one lives this long at
    # most (NL GOV: 6 h at most), and no rotation extends its family past the family's
    # absolute maximum.
    refresh_token_lifetime: int = Field(default=6 * 3600, gt=0, le=6 * 3600)
    refresh_token_family_lifetime: int = Field(default=24 * 3600, gt=0, le=30 * 24 * 3600)
    session_lifetime: int = 8 * 3600
    authorization_request_lifetime: int = 600
    # Key rotation: keep a retired key in the JWKS this long after it stopped signing
    # (longer than the longest token lifetime plus leeway).
    key_retention_seconds: int = 3600 + 300
    # With IDENTITY_REDIS_URL: new revocations are pushed over Redis pub/sub within this
    # many seconds of their commit (tokens/push.py; polling the feed stays the fallback).
    revocation_push_interval_seconds: float = Field(default=0.5, gt=0, le=5.0)
    # Session cookie; Secure is forced outside development.
    cookie_name: str = "samen_session"
    # Seconds a client registry read is cached in memory on the token hot path.
    client_cache_seconds: float = 5.0
    # Failed client authentications per client id and window before every attempt of that
    # client id is refused (429, Retry-After) until the window ends; counted in Redis
    # (IDENTITY_REDIS_URL) when set, else per process.
    client_auth_failure_limit: int = Field(default=10, ge=1)
    client_auth_failure_window_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _lifetimes(self) -> Settings:
        if self.refresh_token_lifetime > self.refresh_token_family_lifetime:
            raise ValueError(
                "IDENTITY_REFRESH_TOKEN_LIFETIME must not exceed "
                "IDENTITY_REFRESH_TOKEN_FAMILY_LIFETIME (the refresh family's maximum)."
            )
        # A retired key must stay published while a token it signed can still be valid,
        # or resource servers refuse that token before it expires.
        longest = max(
            self.access_token_lifetime,
            self.public_client_access_token_lifetime,
            self.id_token_lifetime,
        )
        if self.key_retention_seconds <= longest + LEEWAY_SECONDS:
            raise ValueError(
                f"IDENTITY_KEY_RETENTION_SECONDS must exceed the longest token lifetime "
                f"({longest} s) plus the verifiers' leeway ({LEEWAY_SECONDS} s)."
            )
        return self

    @property
    def key_encryption_keys(self) -> list[str]:
        """The current key-encryption key first, then the earlier ones still readable."""
        return [self.key_encryption_key, *self.previous_key_encryption_keys]

    @property
    def cookie_secure(self) -> bool:
        return self.environment != "development" and self.environment != "test"

    def check_production(self) -> None:
        """Refuse unsafe configuration in production."""
        if self.environment != "production":
            return
        if self.simulators_enabled and not self.allow_simulators_in_production:
            raise RuntimeError(
                "IDENTITY_SIMULATORS_ENABLED is on in production; set "
                "IDENTITY_ALLOW_SIMULATORS_IN_PRODUCTION=true to run them deliberately."
            )
        if self.key_encryption_key == DEV_KEY_ENCRYPTION_KEY or self.secret == DEV_SECRET:
            raise RuntimeError("Set IDENTITY_KEY_ENCRYPTION_KEY and IDENTITY_SECRET in production.")
        if self.allow_client_secret_basic:
            raise RuntimeError("client_secret_basic is for development only.")


@lru_cache
def get_settings() -> Settings:
    return Settings()
