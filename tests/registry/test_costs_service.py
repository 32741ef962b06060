"""Cost rules without HTTP: per-inhabitant figures are exact or absent."""

from __future__ import annotations

from decimal import Decimal

from registry.costs.service import per_inhabitant


def test_per_inhabitant_is_absent_without_inhabitants() -> None:
    assert per_inhabitant(Decimal("1000"), None) is None
    assert per_inhabitant(Decimal("1000"), 0) is None
    assert per_inhabitant(Decimal("1000"), 3) == Decimal("333.33")
    assert per_inhabitant(Decimal("0"), 10) == Decimal("0.00")
