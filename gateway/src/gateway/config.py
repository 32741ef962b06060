"""Gateway settings: environment variables with the `GATEWAY_` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    identity_url: str = "http://127.0.0.1:8001"
    registry_url: str = "http://127.0.0.1:8002"
    procurement_url: str = "http://127.0.0.1:8003"

    def upstreams(self) -> dict[str, str]:
        return {
            "identity": self.identity_url,
            "registry": self.registry_url,
            "procurement": self.procurement_url,
        }


@lru_cache
def get_settings() -> Settings:
    return Settings()
