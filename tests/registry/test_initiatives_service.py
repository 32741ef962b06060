"""Initiative rules without HTTP: support counted by kind and province, inhabitants only
from loaded figures, amounts only for co-funding."""

from __future__ import annotations

import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import get_args

import pytest

from registry.initiatives.models import OPEN_STAGES, PLEDGE_KINDS
from registry.initiatives.schemas import InitiativeStage, PledgeCreate, PledgeKind
from registry.initiatives.service import _check_amount, _support
from servicekit.errors import BadRequest


def _pledge(kind: str, province: str | None, amount: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(municipality_id=uuid.uuid4(), kind=kind, province=province,
                           amount=Decimal(amount) if amount is not None else None)  # fmt: skip


def test_support_by_kind_province_and_inhabitants() -> None:
    pledges = [_pledge("interest", "Utrecht"), _pledge("co-fund", "Utrecht", 1000),
               _pledge("co-fund", "Zeeland", 500), _pledge("pilot", None)]  # fmt: skip
    population = {pledges[0].municipality_id: SimpleNamespace(inhabitants=100),
                  pledges[2].municipality_id: SimpleNamespace(inhabitants=50)}  # fmt: skip
    support = _support(pledges, population)
    assert (support.pledges, support.interest, support.pilot, support.co_fund) == (4, 1, 1, 2)
    assert support.co_fund_amount == Decimal(1500)
    assert [(p.province, p.pledges) for p in support.provinces] == [
        ("Utrecht", 2), (None, 1), ("Zeeland", 1)]  # fmt: skip
    assert (support.inhabitants_covered, support.supporters_without_population) == (150, 2)
    empty = _support([], {})
    assert (empty.pledges, empty.inhabitants_covered, empty.provinces) == (0, 0, [])


def test_amount_only_for_co_funding() -> None:
    m = uuid.uuid4()
    _check_amount(PledgeCreate(municipality_id=m, kind="co-fund", amount=Decimal(10)))
    _check_amount(PledgeCreate(municipality_id=m, kind="interest"))
    for body in (PledgeCreate(municipality_id=m, kind="co-fund"),
                 PledgeCreate(municipality_id=m, kind="co-fund", amount=Decimal(0)),
                 PledgeCreate(municipality_id=m, kind="pilot", amount=Decimal(10))):  # fmt: skip
        with pytest.raises(BadRequest):
            _check_amount(body)


def test_the_api_offers_the_choices_the_rules_know() -> None:
    # The tables' constants and the API's enumerations name the same values.
    assert get_args(InitiativeStage) == OPEN_STAGES
    assert get_args(PledgeKind) == PLEDGE_KINDS
