"""Small conversions between what a form holds (strings) and what the APIs take."""

from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import Decimal
from typing import Any

# (thousands, decimal) marks as people write amounts in each language.
AMOUNT_MARKS = {"nl": (".", ","), "en": (",", ".")}


def payload(
    fields: dict[str, str],
    names: tuple[str, ...],
    *,
    numbers: tuple[str, ...] = (),
    lists: tuple[str, ...] = (),
    patch: bool = False,
) -> dict[str, Any]:
    """The API body from a form: empty fields left out (create) or null (merge patch);
    numbers sent as numbers when they are, else as typed (the API says what is wrong);
    lists from comma-separated text."""
    body: dict[str, Any] = {}
    for name in names:
        raw = fields.get(name, "").strip()
        if name not in fields:
            continue
        if not raw:
            if patch:
                body[name] = [] if name in lists else None
            continue
        if name in numbers:
            body[name] = integer(raw)
        elif name in lists:
            body[name] = [item.strip() for item in raw.split(",") if item.strip()]
        else:
            body[name] = raw
    return body


def integer(raw: str) -> Any:
    """A whole number as typed, signed ("-5" too, so the API says it is too small rather
    than not a number), as a JSON number; anything else as typed (the API says what is
    wrong)."""
    text = raw.strip()
    return int(text) if re.fullmatch(r"[-+]?[0-9]+", text) else raw


def as_fields(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """A resource from an API as form values."""
    fields: dict[str, str] = {}
    for name in names:
        value = data.get(name)
        if value is None:
            fields[name] = ""
        elif isinstance(value, list):
            fields[name] = ", ".join(str(v) for v in value)
        else:
            fields[name] = str(value)
    return fields


def months_before(day: date, months: int) -> date:
    """``day`` minus calendar months, clamped to the month's end (as the registry does)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def notice_deadline(contract_end: str | None, notice_months: int | None) -> str | None:
    if not contract_end:
        return None
    return months_before(date.fromisoformat(contract_end), notice_months or 0).isoformat()


def amount(raw: str, lang: str) -> Any:
    """An amount of money as typed in ``lang``, as a JSON number: "250.000,50" in Dutch and
    "250,000.50" in English (thousands in groups of three); a single mark that does not
    group three digits is the decimal one in either language ("12,5", "12.5"). Anything
    else is sent as typed, so the API says what is wrong."""
    text = re.sub(r"[\s\u00a0]", "", raw).removeprefix("€")
    group, point = AMOUNT_MARKS.get(lang, AMOUNT_MARKS["nl"])
    grouped = rf"-?\d{{1,3}}(?:{re.escape(group)}\d{{3}})+(?:{re.escape(point)}\d+)?"
    if re.fullmatch(grouped, text):
        text = text.replace(group, "").replace(point, ".")
    elif re.fullmatch(r"-?\d+(?:[.,]\d+)?", text):
        text = text.replace(",", ".")
    else:
        return raw
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)
