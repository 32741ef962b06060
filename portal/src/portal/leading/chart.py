"""Demand as a server-rendered SVG bar chart (no script): one horizontal bar per lot or
province, length by participating municipalities; a figure procurement withholds (None)
gets no bar, only a mark, never a bar of 0. The table below it carries the same
data for screen readers and keyboard users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LABEL_WIDTH = 200
# The chart spans the page (about 1,100 px) above its table: at this width it is drawn at
# about 1.25 times, so labels read at about 15 px.
CHART_WIDTH = 640
ROW_HEIGHT = 30
TOP = 10


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: withheld
    y: int
    width: float


def bars(rows: list[tuple[str, int | None]]) -> dict[str, Any]:
    """Coordinates for the template (numbers only: the SVG needs no inline style)."""
    top = max((value for _label, value in rows if value is not None), default=0) or 1
    drawn = [
        Bar(
            label,
            value,
            TOP + index * ROW_HEIGHT,
            0.0 if value is None else round(CHART_WIDTH * value / top, 1),
        )
        for index, (label, value) in enumerate(rows)
    ]
    return {
        "bars": drawn,
        "width": LABEL_WIDTH + CHART_WIDTH + 50,
        "height": TOP + max(len(drawn), 1) * ROW_HEIGHT + 10,
        "x0": LABEL_WIDTH,
    }
