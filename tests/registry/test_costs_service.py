"""Cost rules without HTTP: per-inhabitant figures are exact or absent, also for a
municipality that succeeded others in a merger."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from registry.costs.population import Figure, Merger, by_successor, usable_figure
from registry.costs.service import per_inhabitant


def test_per_inhabitant_is_absent_without_inhabitants() -> None:
    assert per_inhabitant(Decimal("1000"), None) is None
    assert per_inhabitant(Decimal("1000"), 0) is None
    assert per_inhabitant(Decimal("1000"), 3) == Decimal("333.33")
    assert per_inhabitant(Decimal("0"), 10) == Decimal("0.00")


SUCCESSOR, FIRST, SECOND, EARLIER = (uuid.uuid4() for _ in range(4))


def _figures(*rows: tuple[uuid.UUID, int, int]) -> dict[uuid.UUID, dict[int, Figure]]:
    figures: dict[uuid.UUID, dict[int, Figure]] = {}
    for municipality, year, inhabitants in rows:
        figures.setdefault(municipality, {})[year] = Figure(
            municipality, year, inhabitants, f"CBS {year}"
        )
    return figures


def test_a_successor_uses_its_own_figure_only_from_the_merger_on() -> None:
    mergers = by_successor([Merger(SUCCESSOR, (FIRST, SECOND), date(2025, 1, 1))])
    # 1 January 2025 is the merger's day: that figure counts everybody.
    figures = _figures((SUCCESSOR, 2024, 100), (SUCCESSOR, 2025, 700), (FIRST, 2024, 200))
    assert usable_figure(SUCCESSOR, figures, mergers) == Figure(SUCCESSOR, 2025, 700, "CBS 2025")
    # A merger during the year: that year's figure (1 January) is from before it.
    mid_year = by_successor([Merger(SUCCESSOR, (FIRST, SECOND), date(2025, 7, 1))])
    assert usable_figure(SUCCESSOR, figures, mid_year) is None  # SECOND's 2024 is missing
    assert usable_figure(FIRST, figures, mid_year) == Figure(FIRST, 2024, 200, "CBS 2024")


def test_before_the_merger_a_successor_adds_its_predecessors_of_the_same_year() -> None:
    mergers = by_successor([Merger(SUCCESSOR, (FIRST, SECOND), date(2025, 1, 1))])
    figures = _figures(
        (SUCCESSOR, 2023, 90), (FIRST, 2023, 190), (SECOND, 2023, 290),
        (SUCCESSOR, 2024, 100), (FIRST, 2024, 200),  # SECOND's 2024 is missing
    )  # fmt: skip
    # 2024 does not add up (never estimated); 2023 does.
    assert usable_figure(SUCCESSOR, figures, mergers) == Figure(SUCCESSOR, 2023, 570, "CBS 2023")
    assert usable_figure(SUCCESSOR, _figures((SUCCESSOR, 2024, 100)), mergers) is None
    assert usable_figure(SUCCESSOR, {}, mergers) is None


def test_a_predecessor_that_had_merged_before_brings_its_own_predecessors() -> None:
    mergers = by_successor([
        Merger(SUCCESSOR, (FIRST,), date(2025, 1, 1)),
        Merger(FIRST, (EARLIER,), date(2024, 1, 1)),
    ])  # fmt: skip
    figures = _figures((SUCCESSOR, 2023, 1), (FIRST, 2023, 10), (EARLIER, 2023, 100))
    assert usable_figure(SUCCESSOR, figures, mergers) == Figure(SUCCESSOR, 2023, 111, "CBS 2023")
    figures = _figures((SUCCESSOR, 2024, 1), (FIRST, 2024, 10))  # FIRST's 2024 counts EARLIER
    assert usable_figure(SUCCESSOR, figures, mergers) == Figure(SUCCESSOR, 2024, 11, "CBS 2024")
