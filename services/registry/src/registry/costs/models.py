"""Population per municipality: reference data the operator loads, with year and source."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model


class PopulationFigure(Model):
    """Inhabitants of one municipality in one year, as a named source (e.g. CBS StatLine)
    states them. Never estimated: a municipality without a figure has no per-inhabitant
    costs."""

    __tablename__ = "population_figures"
    __table_args__ = (Index("ix_population_figures_year", "year"),)

    municipality_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True)
    inhabitants: Mapped[int]
    source: Mapped[str] = mapped_column(String(300))
    loaded_by: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
