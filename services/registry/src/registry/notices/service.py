"""Contract ends as decision moments: when a current usage's notice deadline is 180, 90
and 30 days away, an event goes on the change feed (and so to webhooks), exactly once per
threshold and deadline, however many replicas run the scan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.clock import dutch_today, utcnow
from servicekit.db import Database
from servicekit.errors import NotFound
from servicekit.pagination import PageParams

from ..changes.service import SYSTEM, record_change
from ..contracts import ContractView
from ..usages.radar import notice_deadline
from . import repository
from .models import THRESHOLDS
from .schemas import NoticeAlertOut

log = logging.getLogger(__name__)


def crossed(deadline: date, today: date) -> list[int]:
    """The thresholds a deadline is within today, widest first (none once it passed)."""
    days_left = (deadline - today).days
    if days_left < 0:
        return []
    return [t for t in THRESHOLDS if days_left <= t]


def _event(row: Any, deadline: date, today: date, threshold: int) -> dict[str, Any]:
    return {
        "usageId": str(row.id),
        "municipalityId": str(row.municipality_id),
        "facilityId": str(row.facility_id),
        "offeringId": str(row.offering_id) if row.offering_id else None,
        "contractEndDate": row.contract_end_date.isoformat(),
        "noticePeriodMonths": row.notice_period_months or 0,
        "noticeDeadline": deadline.isoformat(),
        "daysLeft": (deadline - today).days,
        "thresholdDays": threshold,
    }


async def _announce(
    session: AsyncSession, row: Any, deadline: date, today: date, due: list[int]
) -> bool:
    """Claim every threshold passed; announce the nearest if this scan claimed it."""
    nearest = due[-1]
    async with session.begin():
        now = utcnow()
        for threshold in due[:-1]:
            await repository.claim(session, row.id, threshold, deadline, False, now)
        if not await repository.claim(session, row.id, nearest, deadline, True, now):
            return False  # another scheduler got there first
        await record_change(
            session,
            SYSTEM,
            entity="usage",
            entity_id=row.id,
            action="notice-deadline-approaching",
            data=_event(row, deadline, today, nearest),
            subject_path=f"usages/{row.id}",
        )
    return True


async def scan(database: Database, today: date) -> int:
    """One pass over the current contracts; returns the number of events published."""
    async with database.sessionmaker() as session, session.begin():
        rows = await repository.candidates(session, today, max(THRESHOLDS))
        done = await repository.claimed(session, [row.id for row in rows])
    published = 0
    for row in rows:
        deadline = notice_deadline(row.contract_end_date, row.notice_period_months)
        due = crossed(deadline, today)
        if not due or (row.id, due[-1], deadline) in done:
            continue
        async with database.sessionmaker() as session:
            published += await _announce(session, row, deadline, today, due)
    return published


async def run(database: Database, stop: asyncio.Event, every_seconds: float) -> None:
    """Scan now and then every ``every_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        try:
            published = await scan(database, dutch_today())
            if published:
                log.info("notice deadlines announced", extra={"events": published})
        except Exception:  # a failed pass is retried at the next one
            log.exception("notice deadline scan failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)


async def alerts(
    session: AsyncSession, view: ContractView, usage_id: uuid.UUID, params: PageParams
) -> tuple[Sequence[NoticeAlertOut], int]:
    """A usage's alerts are at most three per contract end: read whole, answered a page at
    a time."""
    municipality_id = await repository.municipality_of(session, usage_id)
    if municipality_id is None:
        raise NotFound(f"No usage with id {usage_id}.")
    view.require(municipality_id, "the notice alerts of its contracts")
    items = [
        NoticeAlertOut.model_validate(a) for a in await repository.alerts_of(session, usage_id)
    ]
    return params.window(items), len(items)
