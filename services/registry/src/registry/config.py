"""registry settings: environment variables with the `REGISTRY_` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    # Webhook deliveries (the change feed pushed to subscribers).
    webhooks_enabled: bool = True
    webhook_poll_seconds: float = 2.0
    webhook_timeout_seconds: float = 5.0
    webhook_max_backoff_seconds: int = 3600
    # Plain-http receivers are accepted outside production (local development), or
    # everywhere when this is set.
    webhook_allow_http: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
