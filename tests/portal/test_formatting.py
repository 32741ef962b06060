"""Dates, moments, amounts and counts as people read them in each language."""

from __future__ import annotations

import re

from portal.web.templating import format_date, format_number
from portal.web.values import amount


def test_moments_are_shown_on_dutch_clocks_in_winter_and_summer() -> None:
    assert format_date("2026-12-06T02:54:00Z", "nl") == "06-12-2026 03:54"
    assert format_date("2027-07-01T22:30:00+00:00", "en") == "02 Jul 2027 00:30"


def test_dates_stay_dates_and_unreadable_values_are_shown_as_given() -> None:
    assert format_date("2027-12-31", "nl") == "31-12-2027"
    assert format_date("2027-12-31", "en") == "31 Dec 2027"
    assert format_date("soon", "nl") == "soon"
    assert format_date(None, "nl") == ""


def test_amounts_and_counts_are_grouped_per_language() -> None:
    assert format_number(1085898, "nl") == "1.085.898"
    assert format_number(1085898, "en") == "1,085,898"
    assert format_number(79632.5, "nl") == "79.632,50"
    assert format_number("79632.52", "en") == "79,632.52"
    assert format_number(250000.0, "nl") == "250.000"


def test_missing_or_unreadable_numbers_are_shown_as_given() -> None:
    assert format_number(None, "nl") == ""
    assert format_number("", "en") == ""
    assert format_number("n/a", "nl") == "n/a"


def test_amounts_are_read_as_people_write_them_in_each_language() -> None:
    # Dutch: a dot groups thousands, a comma is the decimal mark.
    assert amount("250.000", "nl") == 250000
    assert amount("250.000,50", "nl") == 250000.5
    assert amount("1.085.898", "nl") == 1085898
    assert amount("€ 12,5", "nl") == 12.5
    assert amount("12.5", "nl") == 12.5  # no group of three: a decimal point
    # English: the other way round.
    assert amount("250,000", "en") == 250000
    assert amount("250,000.50", "en") == 250000.5
    assert amount("250.000", "en") == 250
    assert amount("12,5", "en") == 12.5
    assert amount("100000", "en") == 100000
    # What is no amount goes as typed: the API names the field.
    for typed in ("250.000,50.1", "1.2.3,4,5", "lots", "", "1e9"):
        assert amount(typed, "nl") == typed


def test_the_amount_hint_shows_the_language_s_own_notation() -> None:
    """The tender form's hint gives examples in the page's notation, each read back as
    the amount it shows (grouped thousands, the language's decimal mark)."""
    from portal.web.i18n import Translator

    for lang, group, expected in (("nl", ".", [250000, 250000.5]), ("en", ",", [250000, 250000.5])):
        hint = Translator(lang)("leading.value_hint")
        examples = re.findall(r"\d[\d.,]*\d", hint)
        assert all(group in example for example in examples), hint
        assert [amount(example, lang) for example in examples] == expected
