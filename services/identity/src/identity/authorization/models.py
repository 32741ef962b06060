"""Tables of authorization requests and authorization codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from ..common import timestamp
from ..db import Base


class AuthorizationRequest(Base, table=True):
    """A validated /authorize request waiting for the person to log in upstream."""

    __tablename__ = "authorization_requests"

    id: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=100)
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    required_loa: str = Field(max_length=64)
    # The upstream leg (broker as RP of the chosen means).
    means: str | None = Field(default=None, max_length=32)
    upstream_state: str | None = Field(default=None, max_length=64, unique=True)
    upstream_nonce: str | None = Field(default=None, max_length=64)
    upstream_verifier: str | None = Field(default=None, max_length=128)
    csrf: str = Field(max_length=64)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    completed_at: datetime | None = timestamp(nullable=True)


class AuthorizationCode(Base, table=True):
    __tablename__ = "authorization_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=100)
    redirect_uri: str = Field(max_length=500)
    code_challenge: str = Field(max_length=128)
    nonce: str = Field(max_length=255)
    scope: str = Field(max_length=1000)
    session_hash: str = Field(max_length=64)
    claims_request: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)
    # Set when a used code comes back: what its first redemption produces is revoked.
    replayed_at: datetime | None = timestamp(nullable=True)
