"""Tender rules that need no database: the lifecycle's statuses and moves, amounts and
dates."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from servicekit.clock import add_months
from servicekit.errors import BadRequest, Conflict
from servicekit.http import make_etag

from .models import Lot, Tender

DRAFT = "draft"
OPEN = "open-for-enrollment"
CLOSED = "enrollment-closed"
TENDERING = "tendering"
AWARDED = "awarded"
CONTRACTED = "contracted"
CANCELLED = "cancelled"
FINAL = (CONTRACTED, CANCELLED)
# Not shown to the public: a draft was never published, and a cancelled tender may
# never have been (no publication date is kept to tell).
UNPUBLISHED = (DRAFT, CANCELLED)
LEAD_PARTY_TYPES = ("cooperation", "operator")

# Transition name (the sub-resource) -> (required effective status, new status).
TRANSITIONS: dict[str, tuple[str, str]] = {
    "publication": (DRAFT, OPEN),
    "enrollment-closure": (OPEN, CLOSED),
    "tendering": (CLOSED, TENDERING),
    "award": (TENDERING, AWARDED),
    "contracting": (AWARDED, CONTRACTED),
}


def effective_status(tender: Tender, now: datetime) -> str:
    """The window closes by time: no job has to run for an open tender to close."""
    if tender.status == OPEN and now >= tender.enrollment_closes_at:
        return CLOSED
    return tender.status


def tender_etag(tender: Tender, now: datetime) -> str:
    return make_etag(tender.id, tender.version, effective_status(tender, now))


def check_window(opens_at: datetime, closes_at: datetime) -> None:
    if closes_at <= opens_at:
        raise BadRequest(
            "The enrollment window must close after it opens.",
            invalid_params=[{"name": "enrollmentClosesAt", "reason": "not after opensAt"}],
        )


def check_terms(
    value: Decimal,
    lot_values: list[tuple[str | None, Decimal | None]],
    planned_start: date,
    duration_months: int,
    closes_at: datetime,
    now: datetime,
    *,
    check_past: bool = True,
    total_name: str = "lots",
) -> None:
    """Amounts and dates that contradict each other are refused (400 with every reason):
    a lot worth more than the tender, lots together worth more than the tender, an
    enrollment window that has closed already, a joint contract that starts in the past or
    before municipalities can have enrolled, or that
    would end after the last day of the calendar (9999-12-31).
    ``lot_values`` pairs each lot's value with the request field that carries it (None
    for lots already stored: counted, not blamed); a total over the tender's value is
    blamed on ``total_name``."""
    problems = [
        {"name": name, "reason": "exceeds the tender's estimatedValue"}
        for name, amount in lot_values
        if name is not None and amount is not None and amount > value
    ]
    total = sum((amount for _name, amount in lot_values if amount is not None), Decimal(0))
    if not problems and total > value:
        problems.append(
            {
                "name": total_name,
                "reason": f"lot values add up to {total}, over the tender's {value}",
            }
        )
    if check_past and closes_at <= now:
        problems.append({"name": "enrollmentClosesAt", "reason": "lies in the past"})
    if check_past and planned_start < now.date():
        problems.append({"name": "plannedStartDate", "reason": "lies in the past"})
    elif planned_start < closes_at.date():
        problems.append(
            {"name": "plannedStartDate", "reason": "before the enrollment window closes"}
        )
    try:
        add_months(planned_start, duration_months)
    except ValueError:
        problems.append(
            {"name": "contractDurationMonths", "reason": "the contract would end after 9999-12-31"}
        )
    if problems:
        raise BadRequest(
            "The tender's amounts or dates contradict each other.", invalid_params=problems
        )


def allocate(total: Decimal, weights: list[int]) -> list[Decimal]:
    """``total`` split in cents by ``weights`` (largest remainder): the parts add up to
    ``total`` exactly, where rounding each part alone could lose or add cents."""
    whole = sum(weights)
    if not weights or whole <= 0:
        return [Decimal(0) for _ in weights]
    cents = int((total * 100).to_integral_value())
    exact = [cents * w for w in weights]  # each part times ``whole``
    parts = [e // whole for e in exact]
    # Earlier parts win ties, so the same input always splits the same way.
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] % whole), i))
    for i in by_remainder[: cents - sum(parts)]:
        parts[i] += 1
    return [Decimal(p) / 100 for p in parts]


def lot_values(tender: Tender, lots: list[Lot]) -> dict[uuid.UUID, Decimal]:
    """Each lot's estimated value: its own, or an even share of what the others leave
    (the shares add up to it exactly)."""
    explicit = {lot.id: lot.estimated_value for lot in lots if lot.estimated_value is not None}
    rest = [lot for lot in lots if lot.estimated_value is None]
    remaining = max(Decimal(0), tender.estimated_value - sum(explicit.values(), Decimal(0)))
    values: dict[uuid.UUID, Decimal] = {k: Decimal(v) for k, v in explicit.items() if v is not None}
    for lot, share in zip(rest, allocate(remaining, [1] * len(rest)), strict=True):
        values[lot.id] = share
    return values


def check_publishable(tender: Tender, lots: list[Lot], now: datetime) -> None:
    problems = []
    if not lots:
        problems.append({"name": "lots", "reason": "a tender needs at least one lot to open"})
    if tender.enrollment_closes_at <= now:
        problems.append({"name": "enrollmentClosesAt", "reason": "must be in the future"})
    if problems:
        raise Conflict(
            "The tender cannot be opened for enrollment yet.", extra={"invalidParams": problems}
        )


def lot_amount(lot: Any) -> Decimal | None:
    """A lot's (or a lot request's) estimated amount, if it has one."""
    return lot.estimated_value.amount if lot.estimated_value is not None else None
