"""registry settings: environment variables with the `REGISTRY_` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings

from .webhooks.secretbox import DEV_WEBHOOK_SECRET_KEY


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    # The registry's client at identity (a resource server: reads the revocation feed);
    # development defaults from identity's seed, production sets the private JWK instead.
    auth_client_id: str = "samen-registry"
    auth_client_secret: str = "samen-registry-dev-secret"  # noqa: S105

    # List pages, search and radar answers kept for reuse while the data is unchanged
    # (readcache.py), in bytes of JSON; 0 turns the cache off. A page of 20 items takes
    # 5-11 kB, so the default keeps one to two thousand. Answers are recomputed at least every
    # max-age seconds so that changes made outside the API (no change events) show up too.
    read_cache_bytes: int = Field(default=12 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024)
    read_cache_max_age_seconds: float = Field(default=60.0, gt=0, le=86_400)

    # Notice deadlines 180/90/30 days away announced on the change feed: seconds between
    # scans (0 = none; any number of replicas may scan, each announcement happens once).
    notice_scan_seconds: float = 3600.0
    # Webhook deliveries (the change feed pushed to subscribers).
    webhooks_enabled: bool = True
    webhook_poll_seconds: float = 2.0
    webhook_timeout_seconds: float = 5.0
    webhook_max_backoff_seconds: int = 3600
    # Plain-http receivers are accepted outside production (local development), or
    # everywhere when this is set.
    webhook_allow_http: bool = False
    # Fernet key (url-safe base64 of 32 bytes) sealing the stored signing secrets; the
    # previous keys still open secrets sealed before a rotation. Production must set it.
    webhook_secret_key: str = DEV_WEBHOOK_SECRET_KEY
    previous_webhook_secret_keys: list[str] = []

    def check_production(self) -> None:
        """Refuse the public development webhook key, and a revocation-feed client without
        its private key, in production."""
        if self.environment == "production" and self.webhook_secret_key == DEV_WEBHOOK_SECRET_KEY:
            raise RuntimeError(
                "Set REGISTRY_WEBHOOK_SECRET_KEY in production (a Fernet key, e.g. from "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            )
        self.check_revocation_client()


@lru_cache
def get_settings() -> Settings:
    return Settings()
