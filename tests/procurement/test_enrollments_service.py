"""Enrollment rules without HTTP or database: the window closes by time, start dates lie
within the joint contract, a mandate is not signed in the future and needs a substantial
login."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from procurement.enrollments.schemas import EnrollmentLotIn, MandateIn
from procurement.enrollments.terms import (
    check_mandate,
    check_start_dates,
    check_window,
    contract_end,
    require_assurance,
)
from procurement.tenders.models import Tender
from servicekit.auth import LOA_LOW, LOA_SUBSTANTIAL, Principal
from servicekit.errors import BadRequest, Conflict, Forbidden

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _tender(
    status: str = "open-for-enrollment", closes_in: timedelta = timedelta(days=10)
) -> Tender:
    return Tender(
        facility_id=uuid.uuid4(), facility_name="GT", lead_party_id=uuid.uuid4(),
        lead_party_oin="00000001008765432000", lead_party_name="Dommelvallei", title="GT",
        procedure="open", estimated_value=Decimal(1000), enrollment_opens_at=NOW - timedelta(days=1),
        enrollment_closes_at=NOW + closes_in, planned_start_date=date(2028, 1, 31),
        contract_duration_months=13, status=status, created_by="x", created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def test_the_window_closes_by_time() -> None:
    check_window(_tender(), NOW)
    with pytest.raises(Conflict) as closed:
        check_window(_tender(closes_in=timedelta(seconds=-1)), NOW)
    assert closed.value.slug == "enrollment-window-closed"
    assert "closesAt" in closed.value.extra
    with pytest.raises(Conflict) as draft:
        check_window(_tender(status="draft"), NOW)
    assert draft.value.slug == "enrollment-window-closed"
    assert "closesAt" not in draft.value.extra  # a draft has no window yet


def test_start_dates_lie_within_the_joint_contract() -> None:
    tender = _tender()
    # 31 January plus 13 months: the contract's last day is 28 February two years on.
    assert contract_end(tender) == date(2029, 2, 27)
    lot = uuid.uuid4()
    check_start_dates([EnrollmentLotIn(lot_id=lot, expected_volume=1,
                                       desired_start_date=date(2028, 6, 1))], tender, NOW)  # fmt: skip
    with pytest.raises(BadRequest) as early:
        check_start_dates([EnrollmentLotIn(lot_id=lot, expected_volume=1,
                                           desired_start_date=date(2027, 12, 31))], tender, NOW)  # fmt: skip
    assert early.value.extra["invalidParams"][0]["name"] == "lots[0].desiredStartDate"


def test_a_mandate_is_signed_today_or_before_with_a_substantial_login() -> None:
    mandate = MandateIn(signer_name="A. de Vries", signer_role="burgemeester",
                        signed_date=date(2027, 3, 2), authorises_lead_party=True)  # fmt: skip
    tender = _tender()
    tender.created_at = NOW - timedelta(days=30)  # 2027-01-30, 13:00 in Amsterdam
    with pytest.raises(BadRequest):
        check_mandate(mandate, tender, NOW)
    check_mandate(mandate.model_copy(update={"signed_date": date(2027, 3, 1)}), tender, NOW)
    # While the tender was prepared, up to a year before it was created: accepted.
    for prepared in (date(2027, 1, 29), date(2026, 1, 30)):
        check_mandate(mandate.model_copy(update={"signed_date": prepared}), tender, NOW)
    for typo in (date(2026, 1, 29), date(1900, 3, 1), date(1027, 3, 1)):
        with pytest.raises(BadRequest) as early:
            check_mandate(mandate.model_copy(update={"signed_date": typo}), tender, NOW)
        assert early.value.extra["invalidParams"] == [
            {
                "name": "mandate.signedDate",
                "reason": "before 2026-01-30 (a year before the tender's creation)",
            }
        ]
    staff = Principal(subject="s", org_id="00000001001234567000", org_type="municipality",
                      scopes=frozenset(), acr=LOA_LOW)  # fmt: skip
    with pytest.raises(Forbidden) as low:
        require_assurance(staff)
    assert low.value.slug == "insufficient-assurance"
    require_assurance(Principal(subject="s", scopes=frozenset(), acr=LOA_SUBSTANTIAL))
