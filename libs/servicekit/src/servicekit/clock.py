"""The one clock: timezone-aware UTC datetimes, on both databases.

Everything stored is UTC. SQLite hands back naive datetimes; :class:`UtcDateTime` columns
and :func:`aware` turn them into aware ones in one place, so comparisons with
:func:`utcnow` never mix naive and aware values. Calendar days (deadlines, effective dates,
"today") are the Netherlands' (:func:`dutch_today`), not the server's or UTC's: from 23:00
(22:00 in summer) UTC they differ.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy import DateTime, Dialect, TypeDecorator

Clock = Callable[[], datetime]


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def utcnow() -> datetime:
    return datetime.now(UTC)


def dutch_today(now: datetime | None = None) -> date:
    """The calendar day in the Netherlands at ``now`` (default: this moment)."""
    return (now or utcnow()).astimezone(AMSTERDAM).date()


def add_months(start: date, months: int) -> date:
    """``start`` moved by calendar months, clamped to the month's last day (31 January +
    1 month = 28/29 February), the way contract terms are counted. ``ValueError`` when
    the result lies outside the calendar (before year 1 or after 9999)."""
    year, month = divmod(start.year * 12 + (start.month - 1) + months, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"{start.isoformat()} + {months} months lies outside the calendar")
    return date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))


def aware(value: datetime) -> datetime:
    """``value`` with UTC as its zone when it has none (a value read from SQLite)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp column that is aware on both engines; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored")
        if value is not None and dialect.name == "sqlite":
            # SQLite stores text; stored as UTC, ordering by the column is chronological.
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return aware(value) if value is not None else None


async def get_clock(request: Request) -> Clock:
    """FastAPI dependency: ``app.state.clock`` when set (tests move time), else :func:`utcnow`."""
    clock: Clock = getattr(request.app.state, "clock", utcnow)
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
