"""Notice alerts: which threshold before which notice deadline has been announced."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.clock import utcnow

from ..db import Model

# Days before a notice deadline at which it is announced on the change feed.
THRESHOLDS = (180, 90, 30)


class NoticeAlert(Model):
    """The claim that makes an announcement happen once: its primary key is the usage,
    the threshold and the deadline, so however many schedulers run, one insert wins; a
    changed contract end (a new deadline) announces anew."""

    __tablename__ = "notice_alerts"

    usage_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("usages.id", ondelete="CASCADE"), primary_key=True
    )
    threshold_days: Mapped[int] = mapped_column(primary_key=True)
    notice_deadline: Mapped[date] = mapped_column(primary_key=True)
    announced: Mapped[bool] = mapped_column(
        doc="False for a wider threshold passed over (first seen inside a narrower one)"
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
