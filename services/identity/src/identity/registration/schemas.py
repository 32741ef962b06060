"""Client metadata as RFC 7591 names it, and the initial access tokens' API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from servicekit.schemas import ApiModel, ApiOutModel, JsonInteger


class ClientMetadata(BaseModel):
    """RFC 7591 §2 (and OIDC Dynamic Client Registration §2) metadata; unknown members
    are ignored, as RFC 7591 asks."""

    model_config = ConfigDict(extra="ignore")

    client_name: str = Field(min_length=1, max_length=200)
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code"], max_length=3)
    response_types: list[str] = Field(default_factory=lambda: ["code"], max_length=3)
    token_endpoint_auth_method: str = "private_key_jwt"  # noqa: S105
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = Field(default=None, max_length=500)
    scope: str = Field(default="openid", max_length=1000)
    id_token_signed_response_alg: str = "RS256"  # noqa: S105
    userinfo_signed_response_alg: str | None = None
    userinfo_encrypted_response_alg: str | None = None
    userinfo_encrypted_response_enc: str | None = None
    request_uris: list[str] = Field(default_factory=list, max_length=20)


class InitialAccessTokenIn(ApiModel):
    # A JSON integer only: "600" or true is not read as a number.
    expires_in: Annotated[int, JsonInteger] = Field(
        default=86400, ge=60, le=30 * 86400, description="Seconds until it expires"
    )


class InitialAccessTokenOut(ApiOutModel):
    id: uuid.UUID
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_for: str | None = Field(default=None, description="The client_id registered with it")


class InitialAccessTokenCreated(InitialAccessTokenOut):
    token: str = Field(description="Shown once: the bearer token for POST /auth/register")
