"""The signing key table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field

from ..common import timestamp
from ..db import Base


class SigningKey(Base, table=True):
    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=16)
    # "op" signs the provider's tokens; "simulator" signs the built-in upstream IdPs' tokens.
    purpose: str = Field(max_length=16, index=True)
    # next (published, not yet signing) → active (signing) → retired (published until
    # retire_after) → removed (no longer published; its tokens stop verifying).
    status: str = Field(max_length=16, index=True)
    private_jwk_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = timestamp()
    activated_at: datetime | None = timestamp(nullable=True)
    retired_at: datetime | None = timestamp(nullable=True)
    retire_after: datetime | None = timestamp(nullable=True)
