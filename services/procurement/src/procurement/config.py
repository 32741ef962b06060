"""procurement settings: environment variables with the `PROCUREMENT_` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROCUREMENT_", extra="ignore")

    # The registry is read over HTTP only (never its database).
    registry_url: str = "http://127.0.0.1:8002"
    registry_timeout_seconds: float = 3.0
    # Seconds a client is told to wait (Retry-After) when the registry is unreachable.
    registry_retry_after_seconds: int = 5
    # How long registry organisation look-ups are reused (municipality names, provinces).
    registry_cache_seconds: float = 300.0
    # How long a facility's active usages (contract ends, for proposed start dates) are
    # reused: read for all municipalities at once, so a burst of enrollments costs a few
    # registry calls. Short on purpose; 0 asks the registry per enrollment.
    registry_usage_cache_seconds: float = 10.0
    # client_credentials at identity; client_secret_basic is identity's development setup.
    token_url: str = "http://127.0.0.1:8001/auth/token"  # noqa: S105 (a URL)
    # The client identity seeds for this service (identity/seed.py).
    client_id: str = "samen-procurement"
    # Development default only (identity's dev seed); production sets PROCUREMENT_CLIENT_SECRET.
    client_secret: str = "samen-procurement-dev-secret"  # noqa: S105
    # Production: the client's private JWK (JSON) for private_key_jwt; when set, it is
    # used instead of the secret (identity accepts client secrets in development only).
    client_private_key_jwk: str = ""
    # Contract details (decisions ahead, proposed start dates) need registry:contracts.
    registry_scope: str = "registry:read registry:contracts"

    def revocation_client(self) -> tuple[str, str, str]:
        """The same client reads identity's revocation feed, unless AUTH_CLIENT_* say otherwise."""
        if self.auth_client_id:
            return super().revocation_client()
        return self.client_id, self.client_secret, self.client_private_key_jwk

    # OCDS: the ocid prefix registered with the OCDS data support team ("ocds-" + 6 chars);
    # this one is a placeholder until Samen registers its own.
    ocds_ocid_prefix: str = "ocds-samen0"
    ocds_publisher_name: str = "Samen platform"


@lru_cache
def get_settings() -> Settings:
    return Settings()
