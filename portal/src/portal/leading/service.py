"""Lead party staff ("aanbesteding leiden"): their organisation's tenders with lots,
publication, enrollments, demand and the reports, through the gateway with the person's
token (procurement lets only the lead party's own staff manage its tenders)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..api import Api, ApiResult
from ..catalogue.service import PROCUREMENT, REGISTRY, all_items
from ..municipality.service import my_organisation
from ..sessions.service import Session
from ..web.values import amount, integer

LOT_ROWS = 3
LOT_PARTS = ("title", "unit", "value")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TENDER_FIELDS = ("facilityId", "title", "description", "procedure", "plannedStartDate")
# What a draft's change form holds (its facility, lead party and lots stay as they are).
EDIT_FIELDS = ("title", "description", "procedure", "plannedStartDate")
PROCEDURES = ("open", "restricted", "negotiated", "competitive-dialogue")


def _dutch_time(day: str, at: time) -> str:
    """A day from a date field at a time of day in Dutch time (winter or summer), or the
    text as typed when it is no date (the API says what is wrong)."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return day
    return datetime.combine(parsed, at, tzinfo=AMSTERDAM).isoformat()


def tender_body(fields: dict[str, str], lead_party_id: str, lang: str) -> dict[str, Any]:
    """The API body from the form: the filled-in lot rows only; dates as whole days in
    Dutch time (the window opens at the start of its first day, closes at the end of its
    last)."""
    body = terms_body(fields, TENDER_FIELDS, lang)
    body["leadPartyId"] = lead_party_id
    lots = []
    for row in lot_rows(fields):
        lot: dict[str, Any] = {
            "title": fields.get(f"lot{row}_title", "").strip(),
            "unit": fields.get(f"lot{row}_unit", "").strip(),
        }
        value = fields.get(f"lot{row}_value", "").strip()
        if value:
            lot["estimatedValue"] = {"amount": amount(value, lang)}
        lots.append(lot)
    body["lots"] = lots
    return body


def terms_body(fields: dict[str, str], names: tuple[str, ...], lang: str) -> dict[str, Any]:
    """The tender's own terms from the form (``names`` as typed, then the amount, duration
    and window); an empty field is left out, so the API names it as missing, not as
    malformed."""
    body: dict[str, Any] = {
        name: fields.get(name, "").strip() for name in names if fields.get(name)
    }
    if value := fields.get("estimatedValue", "").strip():
        body["estimatedValue"] = {"amount": amount(value, lang)}
    if duration := fields.get("contractDurationMonths", "").strip():
        body["contractDurationMonths"] = integer(duration)
    if opens := fields.get("opensOn", "").strip():
        body["enrollmentOpensAt"] = _dutch_time(opens, time(0, 0))
    if closes := fields.get("closesOn", "").strip():
        body["enrollmentClosesAt"] = _dutch_time(closes, time(23, 59))
    return body


def lot_rows(fields: dict[str, str]) -> list[int]:
    """The lot rows sent, in order: each with anything filled in. A row with a unit but no
    title is sent too, so the API says the title is missing rather than the row being
    dropped unseen."""
    return [
        row
        for row in range(LOT_ROWS)
        if any(fields.get(f"lot{row}_{part}", "").strip() for part in LOT_PARTS)
    ]


def field_names(fields: dict[str, str]) -> dict[str, str]:
    """API parameter names to this form's field names. The API counts the lots sent, so
    its ``lots[0]`` is the first row filled in, not always the form's first row."""
    names = {
        "estimatedValue": "estimatedValue",
        "estimatedValue.amount": "estimatedValue",
        "enrollmentOpensAt": "opensOn",
        "enrollmentClosesAt": "closesOn",
        "contractDurationMonths": "contractDurationMonths",
        "lots": "lot0_title",  # no lot at all: the first lot's title is missing
    }
    for index, row in enumerate(lot_rows(fields)):
        for api_name, suffix in (
            ("title", "title"),
            ("unit", "unit"),
            ("estimatedValue", "value"),
            ("estimatedValue.amount", "value"),
        ):
            names[f"lots[{index}].{api_name}"] = f"lot{row}_{suffix}"
            names[f"lots.{index}.{api_name}"] = f"lot{row}_{suffix}"
    return names


async def mine(api: Api, session: Session) -> dict[str, Any]:
    organisation = await my_organisation(api, session)
    tenders = await all_items(api, f"{PROCUREMENT}/tenders", {}, session)
    own = [t for t in tenders if t.get("leadParty", {}).get("id") == organisation["id"]]
    own.sort(key=lambda t: t.get("createdAt", ""), reverse=True)
    return {"organisation": organisation, "tenders": own}


async def facilities(api: Api) -> list[dict[str, Any]]:
    items = await all_items(api, f"{REGISTRY}/facilities")
    items.sort(key=lambda f: f["name"].lower())
    return items


async def create(
    api: Api, session: Session, fields: dict[str, str], key: str, lang: str
) -> ApiResult:
    organisation = await my_organisation(api, session)
    return await api.call(
        "POST",
        f"{PROCUREMENT}/tenders",
        session=session,
        json=tender_body(fields, organisation["id"], lang),
        headers={"Idempotency-Key": key},
    )


async def read(api: Api, session: Session, tender_id: str) -> ApiResult:
    """The tender with its ETag."""
    return await api.call("GET", f"{PROCUREMENT}/tenders/{tender_id}", session=session)


async def publish(api: Api, session: Session, tender_id: str, key: str) -> ApiResult:
    return await api.call(
        "POST",
        f"{PROCUREMENT}/tenders/{tender_id}/publication",
        session=session,
        json={},
        headers={"Idempotency-Key": key},
    )


async def leads(api: Api, session: Session, tender: dict[str, Any]) -> bool:
    """Whether the person's organisation is the tender's lead party (procurement compares
    the OIN in their token with the lead party's; without an OIN in the answer, the
    registry's record of their organisation with the lead party's id)."""
    person = session.data.person
    assert person is not None
    lead = tender.get("leadParty") or {}
    if lead.get("oin"):
        return bool(person.org_id) and lead["oin"] == person.org_id
    organisation = await my_organisation(api, session)
    return bool(lead.get("id")) and lead.get("id") == organisation["id"]


async def detail(api: Api, session: Session, tender: dict[str, Any]) -> dict[str, Any]:
    """The lead party's view of its tender (read first, see ``leads``): enrollments and
    demand."""
    base = f"{PROCUREMENT}/tenders/{tender['id']}"
    enrollments, demand = await asyncio.gather(
        all_items(api, f"{base}/enrollments", {}, session),
        api.get(f"{base}/demand", session=session),
    )
    return {"tender": tender, "enrollments": enrollments, "demand": demand}


async def download(api: Api, session: Session, tender_id: str, kind: str) -> ApiResult:
    path = "ocds" if kind == "ocds" else "demand.csv"
    return await api.call("GET", f"{PROCUREMENT}/tenders/{tender_id}/{path}", session=session)


def edit_values(tender: dict[str, Any]) -> dict[str, str]:
    """A draft's terms as the change form shows them (the window as Dutch days)."""
    values = {name: str(tender.get(name) or "") for name in EDIT_FIELDS}
    value = Decimal(str(tender["estimatedValue"]["amount"]))
    values["estimatedValue"] = str(
        value.quantize(Decimal(1)) if value == value.to_integral() else value
    )
    values["contractDurationMonths"] = str(tender["contractDurationMonths"])
    for field, moment in (("opensOn", "enrollmentOpensAt"), ("closesOn", "enrollmentClosesAt")):
        at = datetime.fromisoformat(str(tender[moment])).astimezone(AMSTERDAM)
        values[field] = at.date().isoformat()
    return values


async def change(
    api: Api, session: Session, tender_id: str, fields: dict[str, str], lang: str
) -> ApiResult:
    """A JSON merge patch of the draft's terms, on the version the form was made from."""
    return await api.merge_patch(
        f"{PROCUREMENT}/tenders/{tender_id}",
        terms_body(fields, EDIT_FIELDS, lang),
        fields.get("etag", ""),
        session,
    )


async def cancel(api: Api, session: Session, tender_id: str, reason: str) -> ApiResult:
    return await api.call(
        "POST",
        f"{PROCUREMENT}/tenders/{tender_id}/cancellation",
        session=session,
        json={"reason": reason.strip()},
    )
