"""Tables of refresh tokens and revoked access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from ..common import timestamp
from ..db import Base


class RefreshToken(Base, table=True):
    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    family_id: str = Field(max_length=64)
    client_id: str = Field(max_length=100)
    scope: str = Field(max_length=1000)
    session_hash: str = Field(max_length=64)
    # The authorization request's `claims` parameter, carried along the family so that
    # access tokens obtained by refresh stay as minimised at userinfo as the first one.
    claims_request: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    # The absolute end of the whole family (NL GOV OAuth profile): rotation never passes it.
    family_expires_at: datetime | None = timestamp(nullable=True)
    used_at: datetime | None = timestamp(nullable=True)
    revoked_at: datetime | None = timestamp(nullable=True)


class RevokedToken(Base, table=True):
    """Access tokens revoked before they expire: introspection and userinfo answer
    inactive, and resource servers read them from the revocation feed."""

    __tablename__ = "revoked_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=100)
    expires_at: datetime = timestamp()
    # The revocation feed reads by it.
    revoked_at: datetime = timestamp(index=True)
