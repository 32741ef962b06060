"""The login session table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from ..common import timestamp
from ..db import Base


class LoginSession(Base, table=True):
    __tablename__ = "login_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    person_hash: str = Field(max_length=64, index=True)
    means: str = Field(max_length=32)
    acr: str = Field(max_length=64)
    auth_time: datetime = timestamp()
    # Encrypted JSON of the upstream attributes (may contain a BSN).
    attributes_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = timestamp()
    ended_at: datetime | None = timestamp(nullable=True)
