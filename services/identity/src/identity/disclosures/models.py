"""The disclosure log and the link from pairwise subjects to persons."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, String
from sqlmodel import Field

from ..common import timestamp
from ..db import Base


class PairwiseSubject(Base, table=True):
    """Which person a pairwise `sub` of a sector stands for (for /v1/me/disclosures)."""

    __tablename__ = "pairwise_subjects"

    sector: str = Field(primary_key=True, max_length=100)
    sub: str = Field(primary_key=True, max_length=64)
    person_hash: str = Field(max_length=64, index=True)


class Disclosure(Base, table=True):
    """Append-only: which client received which attributes of a person, and when."""

    __tablename__ = "disclosures"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_hash: str = Field(max_length=64, index=True)
    client_id: str = Field(max_length=100)
    client_name: str = Field(max_length=200)
    channel: str = Field(max_length=32)
    attributes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    acr: str = Field(max_length=64)
    at: datetime = timestamp(index=True)
    trace_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
