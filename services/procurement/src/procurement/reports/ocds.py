"""The tender as an OCDS 1.1.5 release: the mapping from tenders, lots and enrolled
municipalities (no database)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from servicekit.clock import AMSTERDAM

from ..enrollments.terms import contract_end
from ..tenders.models import Lot, Tender
from ..tenders.terms import lot_values

PROCUREMENT_METHOD = {
    "open": "open",
    "restricted": "selective",
    "competitive-dialogue": "selective",
    "negotiated": "limited",
}


PROCEDURE_DETAILS = {
    "open": "Openbare procedure (open procedure)",
    "restricted": "Niet-openbare procedure (restricted procedure)",
    "competitive-dialogue": "Concurrentiegerichte dialoog (competitive dialogue)",
    "negotiated": "Mededingingsprocedure met onderhandeling (negotiated procedure)",
}


TENDER_STATUS = {
    "draft": "planning",
    "open-for-enrollment": "planned",
    "enrollment-closed": "planned",
    "tendering": "active",
    "awarded": "complete",
    "contracted": "complete",
    "cancelled": "cancelled",
}


RELEASE_TAG = {
    "draft": "planning",
    "open-for-enrollment": "planning",
    "enrollment-closed": "planning",
    "tendering": "tender",
    # No awards or contracts sections exist yet (suppliers are not recorded here), and the
    # "award" / "contract" tags promise them: the tender's own update is all there is.
    "awarded": "tenderUpdate",
    "contracted": "tenderUpdate",
    "cancelled": "tenderCancellation",
}


OIN_SCHEME = "NL-OIN"


LOTS_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/"
    "v1.1.5/extension.json"
)

# OCDS 1.1 has no core field for why a tender is cancelled: the status details extension
# adds tender.statusDetails.
STATUS_DETAILS_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/"
    "ocds_status_details_extension/master/extension.json"
)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _local(value: date, at: time) -> str:
    """A Dutch calendar day's moment, with Amsterdam's offset on that day."""
    return datetime.combine(value, at, tzinfo=AMSTERDAM).isoformat()


def _party_id(oin: str) -> str:
    return f"{OIN_SCHEME}-{oin}"


def _amount(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def buyer(oin: str, name: str | None, cbs_code: str | None, province: str | None) -> dict[str, Any]:
    identifier = {"scheme": OIN_SCHEME, "id": oin}
    if name:
        identifier["legalName"] = name
    address = {"countryName": "Nederland"}
    if province:
        address["region"] = province
    party: dict[str, Any] = {
        "id": _party_id(oin),
        "name": name or f"Gemeente (OIN {oin})",
        "identifier": identifier,
        "roles": ["buyer"],
        "address": address,
    }
    if cbs_code:
        party["additionalIdentifiers"] = [{"scheme": "NL-CBS", "id": cbs_code}]
    return party


def _enrollment_milestones(
    tender: Tender, now: datetime, *, published: bool
) -> list[dict[str, Any]]:
    """The enrollment window as core OCDS milestones (OCDS has no field for the period in
    which buyers join a central purchasing body's procedure; ``tenderPeriod`` is the
    suppliers' bidding period and ``enquiryPeriod`` their questions). ``published``: the
    tender was opened for enrollment at some point (a cancelled one perhaps never was)."""
    cancelled = tender.status == "cancelled"
    # A cancelled tender changes no more: its last change is the cancellation.
    until = min(now, tender.updated_at) if cancelled else now
    opened = published and tender.enrollment_opens_at <= until
    out = []
    for code, title, at in (
        ("enrollmentOpens", "Aanmelding gemeenten open", tender.enrollment_opens_at),
        ("enrollmentCloses", "Aanmelding gemeenten gesloten", tender.enrollment_closes_at),
    ):
        milestone: dict[str, Any] = {
            "id": f"{tender.id}-{code}",
            "title": title,
            "type": "preProcurement",
            "code": code,
            "description": (
                "Municipalities enroll in the joint tender (with a mandate for the lead "
                "party) between these two milestones."
            ),
            "dueDate": iso(at),
            "status": "scheduled",
        }
        if opened and at <= until:
            milestone["status"] = "met"
            milestone["dateMet"] = iso(at)
        elif cancelled:  # the cancellation came first: this moment will not come
            milestone["status"] = "notMet"
        out.append(milestone)
    return out


def _item(lot: Lot, quantity: int | None) -> dict[str, Any]:
    """A lot's item; the quantity only when enough municipalities make it up (None)."""
    item: dict[str, Any] = {"id": f"{lot.id}-item", "description": lot.title}
    if quantity is not None:
        item["quantity"] = quantity
    return {**item, "unit": {"name": lot.unit}, "relatedLot": str(lot.id)}


def release(
    tender: Tender,
    lots: list[Lot],
    buyers: list[dict[str, Any]],
    totals: dict[uuid.UUID, int],
    status: str,
    changed: datetime,
    ocid: str,
    now: datetime,
    *,
    published: bool,
) -> dict[str, Any]:
    lead = {
        "id": _party_id(tender.lead_party_oin),
        "name": tender.lead_party_name,
        "identifier": {
            "scheme": OIN_SCHEME,
            "id": tender.lead_party_oin,
            "legalName": tender.lead_party_name,
        },
        "roles": ["procuringEntity", "centralPurchasingBody"],
    }
    parties = [lead, *buyers]
    values = lot_values(tender, lots)
    last_day = contract_end(tender)
    # The service runs from its first day's start to its last day's end, Dutch time.
    contract_period = {
        "startDate": _local(tender.planned_start_date, time(0, 0)),
        "endDate": _local(last_day, time(23, 59, 59)),
        "durationInDays": (last_day - tender.planned_start_date).days + 1,
    }
    lot_status = {"cancelled": "cancelled", "awarded": "complete", "contracted": "complete"}
    ocds_tender: dict[str, Any] = {
        "id": str(tender.id),
        "title": tender.title,
        "status": TENDER_STATUS[status],
        "procuringEntity": {"id": lead["id"], "name": lead["name"]},
        "value": {"amount": _amount(tender.estimated_value), "currency": tender.currency},
        "procurementMethod": PROCUREMENT_METHOD[tender.procedure],
        "procurementMethodDetails": PROCEDURE_DETAILS[tender.procedure],
        "contractPeriod": contract_period,
        "milestones": _enrollment_milestones(tender, now, published=published),
        "items": [_item(lot, totals.get(lot.id)) for lot in lots],
        "lots": [
            {
                "id": str(lot.id),
                "title": lot.title,
                "description": lot.description or lot.title,
                "value": {"amount": _amount(values[lot.id]), "currency": tender.currency},
                "status": lot_status.get(status, TENDER_STATUS[status]),
                "contractPeriod": contract_period,
            }
            for lot in lots
        ],
    }
    if tender.description:
        ocds_tender["description"] = tender.description
    if status == "cancelled" and tender.cancellation_reason:
        ocds_tender["statusDetails"] = tender.cancellation_reason
    content = {
        "ocid": ocid,
        "tag": [RELEASE_TAG[status]],
        "initiationType": "tender",
        "language": "nl",
        "parties": parties,
        "tender": ocds_tender,
    }
    # The window opens and closes by the clock, with no row changing: the moment a
    # milestone was met is a change of the release too.
    met = [
        datetime.fromisoformat(m["dateMet"]) for m in ocds_tender["milestones"] if "dateMet" in m
    ]
    # Registry details filled in later change the release without changing a row's time:
    # the id comes from the content, so a different release always has a different id.
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return {"ocid": ocid, "id": f"{ocid}-{digest}", "date": iso(max([changed, *met])), **content}
