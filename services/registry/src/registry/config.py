"""registry settings: environment variables with the `REGISTRY_` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")


@lru_cache
def get_settings() -> Settings:
    return Settings()
