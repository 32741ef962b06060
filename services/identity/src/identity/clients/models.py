"""Tables of the client registry and of client authentication."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from ..common import timestamp
from ..db import Base


class Client(Base, table=True):
    __tablename__ = "clients"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: str = Field(max_length=100, unique=True, index=True)
    name: str = Field(max_length=200)
    # One grant type per client: authorization_code (users) or client_credentials.
    grant_type: str = Field(max_length=32)
    token_endpoint_auth_method: str = Field(max_length=32)
    secret_hash: str | None = Field(default=None, max_length=128)
    jwks: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    jwks_uri: str | None = Field(default=None, max_length=500)
    redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    post_logout_redirect_uris: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    allowed_scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    minimum_loa: str = Field(max_length=64)
    sector: str = Field(max_length=100)
    bsn_legal_basis: str | None = Field(default=None, max_length=500)
    refresh_tokens_enabled: bool = False
    id_token_signed_response_alg: str = Field(default="RS256", max_length=16)
    # Signed (then optionally encrypted) userinfo answers; none: plain JSON.
    userinfo_signed_response_alg: str | None = Field(default=None, max_length=16)
    userinfo_encrypted_response_alg: str | None = Field(default=None, max_length=32)
    userinfo_encrypted_response_enc: str | None = Field(default=None, max_length=32)
    # Where the client publishes request objects it passes by reference.
    request_uris: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Dynamically registered clients: the hash of the token that manages the registration.
    registration_token_hash: str | None = Field(default=None, max_length=64)
    # Machine clients acting for an organisation carry its claims in their tokens.
    org_id: str | None = Field(default=None, max_length=20)
    org_type: str | None = Field(default=None, max_length=32)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Audiences this client serves as a resource server: it may learn at introspection
    # that tokens for them are active, and read the revocation feed.
    resource_audiences: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    version: int = 1
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class UsedJti(Base, table=True):
    """One-time identifiers seen (client assertions, simulator codes): replay refused."""

    __tablename__ = "used_jtis"
    __table_args__ = (UniqueConstraint("kind", "issuer", "jti"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=32)
    issuer: str = Field(max_length=200)
    jti: str = Field(max_length=255)
    expires_at: datetime = timestamp(index=True)
