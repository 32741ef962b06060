"""The initial access tokens table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from ..common import timestamp
from ..db import Base


class InitialAccessToken(Base, table=True):
    """A one-time permission to register a client at ``/auth/register``."""

    __tablename__ = "initial_access_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(max_length=200)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    # The client registered with it (one use only).
    used_at: datetime | None = timestamp(nullable=True)
    used_for: str | None = Field(default=None, max_length=100)
