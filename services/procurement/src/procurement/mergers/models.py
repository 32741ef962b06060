"""Municipal mergers applied to enrollments: each registry merger once, who did it when."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from servicekit.clock import UtcDateTime

from ..db import Base


class AppliedMerger(Base, table=True):
    __tablename__ = "applied_mergers"

    # The registry's merger id: applying it again finds this row.
    merger_id: uuid.UUID = Field(primary_key=True)
    successor_oin: str | None = Field(default=None, max_length=20)
    predecessor_oins: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    effective_date: date
    moved: str = Field(sa_column=Column(Text, nullable=False))  # JSON, see schemas.AppliedMergerOut
    applied_by: str = Field(max_length=255)
    applied_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
