"""Municipal buyers' calls to procurement (and the registry, for the contract end that
proposes a start date), always as the person: procurement lets a municipality see and
change only its own enrollment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..api import Api, ApiProblem, ApiResult
from ..catalogue.service import PROCUREMENT, REGISTRY, all_items
from ..municipality.service import my_organisation
from ..sessions.service import Session
from ..web.values import integer

OPEN = "open-for-enrollment"
MANDATE_FIELDS = ("signerName", "signerRole", "signedDate")


async def open_tenders(api: Api, session: Session) -> list[Any]:
    return await all_items(api, f"{PROCUREMENT}/tenders", {"status": OPEN}, session)


def not_open_yet(tender: dict[str, Any], now: datetime | None = None) -> bool:
    """Published, but its enrollment window starts later: nothing to fill in yet."""
    try:
        opens = datetime.fromisoformat(str(tender.get("enrollmentOpensAt")))
    except ValueError:
        return False
    return (now or datetime.now(UTC)) < opens.replace(tzinfo=opens.tzinfo or UTC)


async def tender(api: Api, session: Session, tender_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await api.get(f"{PROCUREMENT}/tenders/{tender_id}", session=session)
    return found


async def my_enrollment(
    api: Api, session: Session, tender_id: str
) -> tuple[dict[str, Any] | None, str | None]:
    """This municipality's enrollment that is in force (not withdrawn) and its ETag."""
    rows = await all_items(api, f"{PROCUREMENT}/tenders/{tender_id}/enrollments", None, session)
    for row in rows:
        if row.get("status") != "withdrawn":
            result = await api.call(
                "GET", f"{PROCUREMENT}/tenders/{tender_id}/enrollments/{row['id']}", session=session
            )
            return result.data, result.etag
    return None, None


async def proposed_start(api: Api, session: Session, tender: dict[str, Any]) -> str:
    """The day after the municipality's latest active contract end for the tender's
    facility (what procurement itself would propose), but not before the joint contract's
    planned start (procurement refuses a chosen date outside the contract); empty when
    there is no such contract."""
    facility_id = tender["facility"]["id"]
    try:
        organisation = await my_organisation(api, session)
    except ApiProblem:
        return ""
    usages = await all_items(
        api,
        f"{REGISTRY}/usages",
        {"municipalityId": organisation["id"], "facilityId": facility_id},
        session,
    )
    ends = [
        u["contractEndDate"]
        for u in usages
        if u.get("facilityId") == facility_id
        and u.get("status") == "active"
        and u.get("contractEndDate")
    ]
    if not ends:
        return ""
    proposed = date.fromisoformat(max(ends)) + timedelta(days=1)
    planned = date.fromisoformat(tender["plannedStartDate"])
    return max(proposed, planned).isoformat()


def enrollment_body(
    fields: dict[str, str], lot_ids: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The POST body from the form, and the API parameter names mapped to form fields
    (so procurement's messages land next to the right lot's inputs)."""
    lots: list[dict[str, Any]] = []
    names: dict[str, str] = {"lots": "lots"}
    for lot_id in lot_ids:
        if not fields.get(f"lot-{lot_id}"):
            continue
        i = len(lots)
        volume = fields.get(f"volume-{lot_id}", "").strip()
        line: dict[str, Any] = {
            "lotId": lot_id,
            "expectedVolume": integer(volume),
        }
        start = fields.get(f"start-{lot_id}", "").strip()
        if start:
            line["desiredStartDate"] = start
        lots.append(line)
        names[f"lots[{i}].lotId"] = f"lot-{lot_id}"
        names[f"lots[{i}].expectedVolume"] = f"volume-{lot_id}"
        names[f"lots[{i}].desiredStartDate"] = f"start-{lot_id}"
    mandate: dict[str, Any] = {k: fields.get(k, "").strip() for k in MANDATE_FIELDS}
    mandate["authorisesLeadParty"] = fields.get("authorisesLeadParty") == "yes"
    for k in (*MANDATE_FIELDS, "authorisesLeadParty"):
        names[f"mandate.{k}"] = k
    return {"lots": lots, "mandate": mandate}, names


async def enroll(
    api: Api, session: Session, tender_id: str, body: dict[str, Any], key: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{PROCUREMENT}/tenders/{tender_id}/enrollments",
        session=session,
        json=body,
        headers={"Idempotency-Key": key},
    )


async def withdraw(
    api: Api, session: Session, tender_id: str, enrollment_id: str, etag: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{PROCUREMENT}/tenders/{tender_id}/enrollments/{enrollment_id}/withdrawal",
        session=session,
        headers={"If-Match": etag},
    )
