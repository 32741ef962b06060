"""Tender rules without HTTP: amounts and dates that contradict each other."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from procurement.tenders.terms import allocate, check_terms, check_window
from servicekit.errors import BadRequest

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CLOSES = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


def reasons(exc: pytest.ExceptionInfo[BadRequest]) -> dict[str, str]:
    params = exc.value.extra["invalidParams"]
    return {p["name"]: p["reason"] for p in params}


def test_consistent_terms_pass() -> None:
    lots = [("lots[0].estimatedValue", Decimal(600)), ("lots[1].estimatedValue", None)]
    check_terms(Decimal(1000), lots, date(2027, 3, 1), 48, CLOSES, NOW)
    # A lot worth exactly the tender, and a contract starting on the closing day, are fine.
    check_terms(Decimal(1000), [("x", Decimal(1000))], CLOSES.date(), 48, CLOSES, NOW)


def test_a_lot_over_the_tender_value_is_blamed_on_that_lot() -> None:
    lots = [("lots[0].estimatedValue", Decimal(1500)), ("lots[1].estimatedValue", None)]
    with pytest.raises(BadRequest) as exc:
        check_terms(Decimal(1000), lots, date(2027, 3, 1), 48, CLOSES, NOW)
    assert reasons(exc) == {"lots[0].estimatedValue": "exceeds the tender's estimatedValue"}


def test_lots_adding_up_to_more_than_the_tender() -> None:
    lots = [(f"lots[{i}].estimatedValue", Decimal(600)) for i in range(2)]
    with pytest.raises(BadRequest) as exc:
        check_terms(Decimal(1000), lots, date(2027, 3, 1), 48, CLOSES, NOW)
    assert set(reasons(exc)) == {"lots"}
    # Stored lots are counted but not blamed; the total goes to the field named.
    with pytest.raises(BadRequest) as exc:
        check_terms(
            Decimal(1000),
            [(None, Decimal(700)), ("estimatedValue", Decimal(400))],
            date(2027, 3, 1),
            48,
            CLOSES,
            NOW,
            total_name="estimatedValue",
        )
    assert set(reasons(exc)) == {"estimatedValue"}


def test_planned_start_in_the_past_or_before_the_window_closes() -> None:
    with pytest.raises(BadRequest) as exc:
        check_terms(Decimal(1000), [], date(2020, 1, 1), 48, CLOSES, NOW)
    assert reasons(exc) == {"plannedStartDate": "lies in the past"}
    with pytest.raises(BadRequest) as exc:
        check_terms(Decimal(1000), [], date(2027, 1, 1), 48, CLOSES, NOW)
    assert reasons(exc) == {"plannedStartDate": "before the enrollment window closes"}
    # A draft whose start date aged is not blocked by it when other things change.
    check_terms(
        Decimal(1000),
        [],
        date(2026, 12, 1),
        48,
        datetime(2026, 11, 1, tzinfo=UTC),
        NOW,
        check_past=False,
    )


def test_a_contract_must_end_within_the_calendar() -> None:
    far = datetime(9990, 1, 1, tzinfo=UTC)
    # Ending on 9999-12-01 is fine; a month later the contract runs off the calendar.
    check_terms(Decimal(1000), [], date(9989, 12, 1), 120, datetime(9989, 1, 1, tzinfo=UTC), NOW)
    with pytest.raises(BadRequest) as exc:
        check_terms(Decimal(1000), [], date(9990, 1, 1), 240, far, NOW)
    assert reasons(exc) == {"contractDurationMonths": "the contract would end after 9999-12-31"}


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(BadRequest) as exc:
        check_terms(
            Decimal(10),
            [("lots[0].estimatedValue", Decimal(11))],
            date(2020, 1, 1),
            48,
            CLOSES,
            NOW,
        )
    assert set(reasons(exc)) == {"lots[0].estimatedValue", "plannedStartDate"}


def test_an_enrollment_window_that_closed_already_or_closes_before_it_opens() -> None:
    """Refused when the tender is created (a draft that could never be published), blamed
    on the closing moment so a form shows it next to that field."""
    closed = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(BadRequest) as exc:
        check_terms(Decimal(1000), [], date(2027, 3, 1), 48, closed, NOW)
    assert reasons(exc) == {"enrollmentClosesAt": "lies in the past"}
    # A draft that aged is not blocked by it when other things change.
    check_terms(Decimal(1000), [], date(2027, 3, 1), 48, closed, NOW, check_past=False)
    with pytest.raises(BadRequest) as exc:
        check_window(CLOSES, CLOSES)
    assert reasons(exc) == {"enrollmentClosesAt": "not after opensAt"}
    check_window(NOW, CLOSES)


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        ("1000000", [1, 1, 1], ["333333.34", "333333.33", "333333.33"]),
        ("0.05", [1, 1, 1, 1], ["0.02", "0.01", "0.01", "0.01"]),
        ("100", [1, 2], ["33.33", "66.67"]),  # 33.333.. and 66.666..: the larger remainder
        ("10", [0, 0], ["0", "0"]),
        ("10", [], []),
    ],
)
def test_allocate_splits_in_cents_that_add_up(
    total: str, weights: list[int], parts: list[str]
) -> None:
    result = allocate(Decimal(total), weights)
    assert result == [Decimal(p) for p in parts]
    if any(weights):
        assert sum(result) == Decimal(total)
