"""The contract-expiry radar as a server-rendered SVG timeline (no script), plus its CSV.

One row per contract: a bar from today to the contract's end, a mark at the notice
deadline; month ticks along the top. The SVG has a title and a description; the table
below it carries the same data for screen readers and keyboard users."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..web.values import months_before

LABEL_WIDTH = 220
CHART_WIDTH = 560
ROW_HEIGHT = 34
TOP = 40
MONTHS = 24


@dataclass(frozen=True)
class Bar:
    label: str
    y: int
    x_end: float
    x_notice: float | None
    late: bool
    end: str
    notice: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


def _add_months(day: date, months: int) -> date:
    return months_before(day, -months)


def chart(items: list[dict[str, Any]], today: date, month_names: list[str]) -> dict[str, Any]:
    """Coordinates for the template (numbers only: the SVG needs no inline style)."""
    horizon = _add_months(today, MONTHS)
    span = (horizon - today).days or 1

    def x_of(day: date) -> float:
        offset = min(max((day - today).days, 0), span)
        return round(LABEL_WIDTH + CHART_WIDTH * offset / span, 1)

    bars = []
    for index, item in enumerate(items):
        end = date.fromisoformat(item["contractEndDate"])
        notice = item.get("noticeDeadline")
        bars.append(
            Bar(
                label=item["facilityName"],
                y=TOP + index * ROW_HEIGHT,
                x_end=x_of(end),
                x_notice=x_of(date.fromisoformat(notice)) if notice else None,
                late=bool(item.get("noticeDeadlinePassed")),
                end=item["contractEndDate"],
                notice=notice or "",
            )
        )
    ticks = []
    for step in range(0, MONTHS + 1, 3):
        day = _add_months(today.replace(day=1), step)
        ticks.append(Tick(x_of(max(day, today)), f"{month_names[day.month - 1]} {day.year}"))
    return {
        "bars": bars,
        "ticks": ticks,
        "width": LABEL_WIDTH + CHART_WIDTH + 40,  # room for the last month's label
        "height": TOP + max(len(bars), 1) * ROW_HEIGHT + 10,
        "x0": LABEL_WIDTH,
        "x1": LABEL_WIDTH + CHART_WIDTH,
        "row": ROW_HEIGHT,
    }


CSV_COLUMNS = (
    "facilityName",
    "theme",
    "contractEndDate",
    "noticePeriodMonths",
    "noticeDeadline",
    "noticeDeadlinePassed",
    "alternatives",
)


def as_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        row = []
        for column in CSV_COLUMNS:
            value = item.get(column)
            if column == "alternatives":
                value = "; ".join(a.get("name", "") for a in value or [] if isinstance(a, dict))
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            text = "" if value is None else str(value)
            # No formulas in a spreadsheet from data others typed (CSV injection).
            if text[:1] in ("=", "+", "-", "@"):
                text = "'" + text
            row.append(text)
        writer.writerow(row)
    return out.getvalue()
