"""Municipal staff: their municipality's usages and contracts, and its radar, through the
gateway with the person's token (the registry lets a municipality change only its own)."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from ..api import Api, ApiProblem, ApiResult
from ..catalogue.service import REGISTRY, all_items, names
from ..sessions.service import Session
from ..web.values import notice_deadline

USAGE_FIELDS = (
    "facilityId",
    "offeringId",
    "status",
    "startDate",
    "contractEndDate",
    "noticePeriodMonths",
    "contractValueBand",
)
PATCH_FIELDS = USAGE_FIELDS[1:]
# The registry's CSV columns, as the import page lists them.
IMPORT_COLUMNS = (*USAGE_FIELDS, "versionId", "annualCost")
RADAR_WITHIN = "P24M"


async def my_organisation(api: Api, session: Session) -> dict[str, Any]:
    """The registry's record of the person's organisation (by the OIN or KvK number in
    their token)."""
    person = session.data.person
    assert person is not None
    assert person.org_id
    key = "kvkNumber" if len(person.org_id) == 8 else "oin"
    page = await api.get(
        f"{REGISTRY}/organisations", session=session, params={key: person.org_id, "pageSize": 1}
    )
    if not page["items"]:
        raise ApiProblem(404, "Not found", "Your organisation is not in the registry.")
    found: dict[str, Any] = page["items"][0]
    return found


async def usages(api: Api, session: Session) -> dict[str, Any]:
    organisation = await my_organisation(api, session)
    items = await all_items(
        api, f"{REGISTRY}/usages", {"municipalityId": organisation["id"]}, session
    )
    facilities = await names(
        api, f"{REGISTRY}/facilities", {u["facilityId"] for u in items}, session
    )
    offerings = await names(
        api,
        f"{REGISTRY}/offerings",
        {u["offeringId"] for u in items if u.get("offeringId")},
        session,
    )
    # Contracts inherited in a merger: the municipality that concluded them.
    predecessors = await names(
        api,
        f"{REGISTRY}/organisations",
        {u["inheritedFromId"] for u in items if u.get("inheritedFromId")},
        session,
    )
    for usage in items:
        usage["noticeDeadline"] = notice_deadline(
            usage.get("contractEndDate"), usage.get("noticePeriodMonths")
        )
    today = date.today().isoformat()
    items.sort(key=lambda u: (u["status"] == "ended", u.get("contractEndDate") or "9999"))
    return {
        "organisation": organisation,
        "usages": items,
        "facilities": facilities,
        "offerings": offerings,
        "predecessors": predecessors,
        "today": today,
    }


async def choices(api: Api) -> dict[str, Any]:
    """Facilities and their offerings, for the usage form's lists."""
    facilities, offerings = await asyncio.gather(
        all_items(api, f"{REGISTRY}/facilities"), all_items(api, f"{REGISTRY}/offerings")
    )
    facilities.sort(key=lambda f: f["name"].lower())
    by_facility: dict[str, list[dict[str, Any]]] = {}
    for offering in offerings:
        by_facility.setdefault(offering["facilityId"], []).append(offering)
    return {"facilities": facilities, "offerings_by_facility": by_facility}


async def create(api: Api, session: Session, body: dict[str, Any], key: str) -> ApiResult:
    organisation = await my_organisation(api, session)
    return await api.call(
        "POST",
        f"{REGISTRY}/usages",
        session=session,
        json={**body, "municipalityId": organisation["id"]},
        headers={"Idempotency-Key": key},
    )


async def read(api: Api, session: Session, usage_id: str) -> ApiResult:
    return await api.call("GET", f"{REGISTRY}/usages/{usage_id}", session=session)


async def change(
    api: Api, session: Session, usage_id: str, body: dict[str, Any], etag: str
) -> ApiResult:
    return await api.merge_patch(f"{REGISTRY}/usages/{usage_id}", body, etag, session)


async def radar(api: Api, session: Session) -> dict[str, Any]:
    organisation = await my_organisation(api, session)
    items = await all_items(
        api,
        f"{REGISTRY}/organisations/{organisation['id']}/radar",
        {"within": RADAR_WITHIN},
        session,
    )
    return {"organisation": organisation, "items": items}


async def import_usages(
    api: Api, session: Session, csv_body: bytes, *, dry_run: bool, idempotency_key: str
) -> dict[str, Any]:
    """The registry's report on a CSV of usages for the person's municipality (only
    checked in a dry run); ApiProblem with every row's problems when one is invalid."""
    organisation = await my_organisation(api, session)
    headers = {"Content-Type": "text/csv"}
    if not dry_run:
        headers["Idempotency-Key"] = idempotency_key
    result = await api.call(
        "POST",
        f"{REGISTRY}/organisations/{organisation['id']}/usage-imports",
        session=session,
        params={"dryRun": "true"} if dry_run else None,
        content=csv_body,
        headers=headers,
    )
    report: dict[str, Any] = result.data
    return report


ROW_PROBLEM = re.compile(r"^rows\[(\d+)\]\.(.+)$")


def row_problems(problem: ApiProblem) -> list[dict[str, str]]:
    """The registry's ``invalidParams`` of an import as (line, column, reason), in the
    file's order; problems with the file itself have no line."""
    found = []
    for item in problem.body.get("invalidParams") or []:
        if not isinstance(item, dict):
            continue
        name, reason = str(item.get("name", "")), str(item.get("reason", ""))
        match = ROW_PROBLEM.match(name)
        line, column = (match.group(1), match.group(2)) if match else ("", "")
        found.append({"line": line, "column": column, "reason": reason})
    found.sort(key=lambda p: (int(p["line"] or 0), p["column"]))
    return found


DOWNLOADS = {
    "usages.csv": ("exports/usages.csv", "text/csv"),
    "offerings.csv": ("exports/offerings.csv", "text/csv"),
    "landscape.xml": ("organisations/{id}/landscape.xml", "application/xml"),
}


async def download(api: Api, session: Session, name: str) -> tuple[str, str, str]:
    """An export of the registry for the person's municipality: (body, media type,
    file name)."""
    organisation = await my_organisation(api, session)
    path, media = DOWNLOADS[name]
    params = {"municipalityId": organisation["id"]} if name == "usages.csv" else None
    result = await api.call(
        "GET",
        f"{REGISTRY}/{path.format(id=organisation['id'])}",
        session=session,
        params=params,
        accept=media,
    )
    stem, _, suffix = name.partition(".")
    code = organisation.get("cbsCode") or "municipality"
    return str(result.data), media, f"{stem}-{code}-{date.today()}.{suffix}"
