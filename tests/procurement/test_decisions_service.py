"""Decisions-ahead rules without HTTP: the window a caller may ask for."""

from __future__ import annotations

import pytest

from procurement.decisions.service import check_within
from servicekit.errors import BadRequest


def test_within_is_a_date_duration_of_at_most_twenty_years() -> None:
    for good in ("P18M", "P1Y6M", "P12W", "P90D", "P20Y"):
        assert check_within(good) == good
    for bad in ("P", "18M", "PT5H", "P21Y", "P1Y-1M", "P9999D"):
        with pytest.raises(BadRequest):
            check_within(bad)
