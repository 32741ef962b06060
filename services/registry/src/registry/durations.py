"""ISO 8601 date durations (``P18M``, ``P1Y6M``, ``P2W``, ``P90D``) and calendar arithmetic.

Only the date part is accepted: a contract window is measured in calendar years, months,
weeks and days, and month arithmetic clamps to the month's last day (31 Jan + P1M =
28/29 Feb), the way contract terms are counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from servicekit.clock import add_months

_DURATION = re.compile(
    r"^P(?:(?P<y>\d{1,3})Y)?(?:(?P<m>\d{1,4})M)?(?:(?P<w>\d{1,4})W)?(?:(?P<d>\d{1,5})D)?$"
)
MAX_DAYS = 366 * 20


@dataclass(frozen=True)
class DateDuration:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months

    def after(self, start: date) -> date:
        return add_months(start, self.total_months) + timedelta(weeks=self.weeks, days=self.days)


def parse_duration(text: str) -> DateDuration:
    """Parse an ISO 8601 date duration; ``ValueError`` when malformed, empty or over 20 years."""
    match = _DURATION.match(text.strip().upper())
    if not match or not any(match.group(k) for k in "ymwd"):
        raise ValueError("must be an ISO 8601 date duration such as P18M, P1Y6M, P12W or P90D")
    duration = DateDuration(*(int(match.group(k) or 0) for k in "ymwd"))
    if duration.total_months * 31 + duration.weeks * 7 + duration.days > MAX_DAYS:
        raise ValueError("must be at most 20 years")
    return duration
