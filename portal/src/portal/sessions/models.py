"""The session table: one row per browser session, keyed by the hash of the cookie's id
(a leaked table gives no usable cookie). Times are epoch seconds: the same on SQLite
and PostgreSQL, and compared only with each other."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Text
from sqlmodel import Field

from ..db import Base


class PortalSession(Base, table=True):
    __tablename__ = "portal_sessions"

    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    # SessionData as JSON: the person, their tokens, pending log-ins and forms.
    data: str = Field(sa_column=Column(Text, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
