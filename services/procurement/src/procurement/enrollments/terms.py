"""Enrollment rules that need no database: who may enroll, the window, lots, start
dates and the mandate."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from servicekit.auth import LOA_SUBSTANTIAL, Principal, loa_at_least
from servicekit.clock import add_months, dutch_today
from servicekit.errors import BadRequest, Conflict, Forbidden
from servicekit.http import make_etag

from ..tenders.models import Lot, Tender
from ..tenders.terms import OPEN, effective_status
from .models import Enrollment, EnrollmentLot
from .schemas import (
    EnrollmentLotIn,
    MandateIn,
)

ENROLLED = "enrolled"


WITHDRAWN = "withdrawn"
# The enrollment of a municipality that ended in a merger, folded into its successor's.
MERGED = "merged"


def require_municipality_staff(principal: Principal) -> str:
    if principal.org_type != "municipality" or not principal.org_id:
        raise Forbidden("Only staff of a municipality may enroll it in a tender.")
    return principal.org_id


def require_signer(principal: Principal) -> str:
    """A municipality's staff whose login may sign a mandate for it; its OIN."""
    oin = require_municipality_staff(principal)
    require_assurance(principal)
    return oin


def require_assurance(principal: Principal) -> None:
    """A mandate binds the municipality: the signer's login must be at least substantial."""
    if not loa_at_least(principal.acr, LOA_SUBSTANTIAL):
        raise Forbidden(
            "Signing a mandate needs a login of level of assurance 'substantial' or higher; "
            "log in again with a stronger means.",
            slug="insufficient-assurance",
            title="Insufficient Level of Assurance",
            extra={"requiredAcr": LOA_SUBSTANTIAL, "acr": principal.acr},
            headers={
                "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
                f'acr_values="{LOA_SUBSTANTIAL}"'
            },
        )


# How long before a tender's creation its mandates may be signed (while it is prepared).
MANDATE_LEAD_MONTHS = 12


def check_window(tender: Tender, now: datetime) -> None:
    status = effective_status(tender, now)
    opens, closes = tender.enrollment_opens_at, tender.enrollment_closes_at
    if status == OPEN and now < opens:
        raise Conflict(
            "The enrollment window has not opened yet.",
            slug="enrollment-window-not-open",
            extra={"opensAt": opens.isoformat(), "closesAt": closes.isoformat()},
        )
    if status != OPEN:
        extra: dict[str, Any] = {"tenderStatus": status}
        if status != "draft":
            extra["closesAt"] = closes.isoformat()
        raise Conflict(
            "The enrollment window is closed." if status != "draft" else "The tender is a draft.",
            slug="enrollment-window-closed",
            extra=extra,
        )


def enrollment_etag(enrollment: Enrollment) -> str:
    return make_etag(enrollment.id, enrollment.version)


def check_lots(lines: list[EnrollmentLotIn], lots: list[Lot]) -> None:
    known = {lot.id for lot in lots}
    bad = [
        {"name": f"lots[{i}].lotId", "reason": "not a lot of this tender"}
        for i, line in enumerate(lines)
        if line.lot_id not in known
    ]
    if bad:
        raise BadRequest("Some lots do not belong to this tender.", invalid_params=bad)


def contract_end(tender: Tender) -> date:
    """The joint contract's last day (planned start + duration in calendar months)."""
    return add_months(tender.planned_start_date, tender.contract_duration_months) - timedelta(
        days=1
    )


def check_start_dates(lines: list[EnrollmentLotIn], tender: Tender, now: datetime) -> None:
    """A desired start date the municipality gives must lie within the joint contract
    (which cannot start in the past): from its planned start to its planned end."""
    earliest = max(tender.planned_start_date, dutch_today(now))
    latest = contract_end(tender)
    bad = [
        {
            "name": f"lots[{i}].desiredStartDate",
            "reason": f"outside the joint contract: from {earliest} to {latest}",
        }
        for i, line in enumerate(lines)
        if line.desired_start_date is not None and not earliest <= line.desired_start_date <= latest
    ]
    if bad:
        raise BadRequest(
            "A desired start date lies outside the joint contract.", invalid_params=bad
        )


def check_mandate(mandate: MandateIn, tender: Tender, now: datetime) -> None:
    """Signed today or before, and at most a year before the tender was created: a
    mandate for a joint tender may be signed while it is prepared, but 1900 or 1026 is a
    typing error (Amsterdam's calendar days)."""
    today = dutch_today(now)
    if mandate.signed_date > today:
        raise BadRequest(
            "A mandate cannot be signed in the future.",
            invalid_params=[{"name": "mandate.signedDate", "reason": "after today"}],
        )
    earliest = add_months(dutch_today(tender.created_at), -MANDATE_LEAD_MONTHS)
    if mandate.signed_date < earliest:
        raise BadRequest(
            "A mandate for this tender is signed at most a year before the tender was created.",
            invalid_params=[
                {
                    "name": "mandate.signedDate",
                    "reason": f"before {earliest} (a year before the tender's creation)",
                }
            ],
        )


def require_owner(principal: Principal, enrollment: Enrollment) -> None:
    if principal.org_id != enrollment.municipality_oin:
        raise Forbidden("Only staff of the enrolled municipality may change its enrollment.")


def require_reader(principal: Principal, tender: Tender, enrollment: Enrollment) -> None:
    """Mandates name a person: only the municipality and the lead party may read them."""
    if principal.org_id not in (enrollment.municipality_oin, tender.lead_party_oin):
        raise Forbidden("Only the municipality and the tender's lead party may read this.")


def event_data(enrollment: Enrollment, lines: list[EnrollmentLot]) -> dict[str, Any]:
    return {
        "tenderId": str(enrollment.tender_id),
        "enrollmentId": str(enrollment.id),
        "municipalityOin": enrollment.municipality_oin,
        "status": enrollment.status,
        "lots": [{"lotId": str(x.lot_id), "expectedVolume": x.expected_volume} for x in lines],
        "version": enrollment.version,
    }


def already_enrolled(existing: Enrollment) -> Conflict:
    location = f"/v1/tenders/{existing.tender_id}/enrollments/{existing.id}"
    return Conflict(
        "This municipality is already enrolled in the tender; change that enrollment instead.",
        slug="already-enrolled",
        extra={"enrollmentId": str(existing.id)},
        headers={"Location": location},
    )


def organisation_ended(when: str = "in a merger") -> Conflict:
    return Conflict(
        f"This municipality ended {when}; its successor enrolls instead.",
        slug="organisation-ended",
    )
