"""The public catalogue's reads, all through the gateway with the portal's read token."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from ..api import Api, ApiProblem
from ..sessions.service import Session

REGISTRY = "/api/registry/v1"
PROCUREMENT = "/api/procurement/v1"
PAGE_SIZE = 20
OPEN_TENDER = "open-for-enrollment"


async def search(api: Api, q: str, filters: dict[str, str], page: int) -> dict[str, Any]:
    params = {"q": q, "page": page, "pageSize": PAGE_SIZE, **filters}
    result: dict[str, Any] = await api.get(f"{REGISTRY}/search", params=params)
    return result


async def facilities(api: Api, filters: dict[str, str], page: int) -> dict[str, Any]:
    params = {"page": page, "pageSize": PAGE_SIZE, **filters}
    result: dict[str, Any] = await api.get(f"{REGISTRY}/facilities", params=params)
    return result


async def all_items(
    api: Api, path: str, params: dict[str, Any] | None = None, session: Session | None = None
) -> list[Any]:
    """Every item of a paged collection (the catalogue's lists are small: a few pages);
    as the person when ``session`` is given, else with the portal's read token."""
    items: list[Any] = []
    page = 1
    while True:
        query = {**(params or {}), "page": page, "pageSize": 100}
        data = await api.get(path, params=query, session=session)
        items.extend(data["items"])
        if page * data["pageSize"] >= data["total"] or not data["items"] or page >= 20:
            return items
        page += 1


async def names(
    api: Api, path: str, ids: set[str], session: Session | None = None
) -> dict[str, dict[str, Any]]:
    """Details of the resources with these ids, by id (unknown ones are left out)."""
    ids = {i for i in ids if i}
    if len(ids) > 20:  # many: the whole list costs fewer calls than one read each
        return {i["id"]: i for i in await all_items(api, path, None, session) if i["id"] in ids}

    async def one(item_id: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await api.get(f"{path}/{item_id}", session=session)
            return result
        except ApiProblem as exc:
            if exc.status == 404:
                return None
            raise

    found = await asyncio.gather(*(one(i) for i in sorted(ids)))
    return {item["id"]: item for item in found if item}


async def facility_by_key(api: Api, key: str) -> dict[str, Any]:
    """A facility by id or by slug (the readable URL)."""
    if len(key) == 36 and key.count("-") == 4:
        result: dict[str, Any] = await api.get(f"{REGISTRY}/facilities/{key}")
        return result
    page = await api.get(f"{REGISTRY}/facilities", params={"slug": key, "pageSize": 1})
    if not page["items"]:
        raise ApiProblem(404, "Not found")
    first: dict[str, Any] = page["items"][0]
    return first


async def facility_page(api: Api, key: str) -> dict[str, Any]:
    facility = await facility_by_key(api, key)
    fid = facility["id"]
    transitions, offerings, usages = await asyncio.gather(
        all_items(api, f"{REGISTRY}/facilities/{fid}/stage-transitions"),
        all_items(api, f"{REGISTRY}/offerings", {"facilityId": fid}),
        all_items(api, f"{REGISTRY}/usages", {"facilityId": fid}),
    )
    versions = await asyncio.gather(
        *(all_items(api, f"{REGISTRY}/offerings/{o['id']}/versions") for o in offerings)
    )
    for offering, its_versions in zip(offerings, versions, strict=True):
        offering["versions"] = its_versions
    offering_names = await integrations_of(api, offerings)
    current = [u for u in usages if u["status"] != "ended"]
    organisations = await names(
        api,
        f"{REGISTRY}/organisations",
        {u["municipalityId"] for u in current}
        | {o["supplierId"] for o in offerings}
        | ({facility["providerId"]} if facility.get("providerId") else set()),
    )
    current.sort(
        key=lambda u: (
            u.get("contractEndDate") or "9999",
            organisations.get(u["municipalityId"], {}).get("name", ""),
            u["municipalityId"],
        )
    )
    # The registry withholds other municipalities' contract ends from the portal's token.
    with_ends = [u for u in current if details_shown(u)]
    return {
        "facility": facility,
        "transitions": transitions,
        "offerings": offerings,
        "usages": current,
        "organisations": organisations,
        "ends_shown": bool(with_ends),
        "ends_withheld": len(with_ends) < len(current),
        "timeline": contract_timeline(with_ends, organisations),
        "offering_names": offering_names,
    }


def details_shown(usage: dict[str, Any]) -> bool:
    """Whether the registry showed this usage's contract details to the caller."""
    return bool(usage.get("contractDetailsShown", True))


async def integrations_of(api: Api, offerings: list[dict[str, Any]]) -> dict[str, str]:
    """Give each offering its ``integrations`` (public reads); returns the names of the
    offerings at their other ends, by id."""
    found = await asyncio.gather(
        *(all_items(api, f"{REGISTRY}/integrations", {"offeringId": o["id"]}) for o in offerings)
    )
    others: set[str] = set()
    for offering, integrations in zip(offerings, found, strict=True):
        offering["integrations"] = integrations
        for i in integrations:
            others |= {i["sourceOfferingId"], i["targetOfferingId"]}
    known = {o["id"]: o["name"] for o in offerings}
    missing = others - set(known)
    more = await names(api, f"{REGISTRY}/offerings", missing) if missing else {}
    return {**known, **{k: v["name"] for k, v in more.items()}}


def contract_timeline(
    usages: list[dict[str, Any]], organisations: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Contract ends grouped by year, for the "until when" timeline."""
    years: dict[str, list[str]] = {}
    for usage in usages:
        end = usage.get("contractEndDate")
        year = end[:4] if end else ""
        name = organisations.get(usage["municipalityId"], {}).get("name", "?")
        years.setdefault(year, []).append(name)
    return [
        {"year": y, "names": sorted(n)}
        for y, n in sorted(years.items(), key=lambda kv: kv[0] or "9999")
    ]


async def organisation_page(api: Api, organisation_id: str) -> dict[str, Any]:
    organisation = await api.get(f"{REGISTRY}/organisations/{organisation_id}")
    usages: list[dict[str, Any]] = []
    offerings: list[dict[str, Any]] = []
    if organisation["type"] == "municipality":
        usages = await all_items(api, f"{REGISTRY}/usages", {"municipalityId": organisation_id})
    if organisation["type"] == "supplier":
        offerings = await all_items(api, f"{REGISTRY}/offerings", {"supplierId": organisation_id})
    facilities = await names(
        api,
        f"{REGISTRY}/facilities",
        {u["facilityId"] for u in usages} | {o["facilityId"] for o in offerings},
    )
    members = await names(
        api, f"{REGISTRY}/organisations", set(organisation.get("memberIds") or [])
    )
    usages.sort(key=lambda u: (u["status"] == "ended", u.get("contractEndDate") or "9999"))
    with_ends = [u for u in usages if details_shown(u)]
    successor = None
    if organisation.get("successorId"):  # ended in a merger: who continues it
        successor = await api.get(f"{REGISTRY}/organisations/{organisation['successorId']}")
    return {
        "organisation": organisation,
        "successor": successor,
        "usages": usages,
        "ends_shown": bool(with_ends),
        "ends_withheld": len(with_ends) < len(usages),
        "offerings": offerings,
        "facilities": facilities,
        "members": members,
    }


async def tenders(api: Api, status: str | None, page: int) -> dict[str, Any]:
    params: dict[str, Any] = {"page": page, "pageSize": PAGE_SIZE}
    if status:
        params["status"] = status
    result: dict[str, Any] = await api.get(f"{PROCUREMENT}/tenders", params=params)
    return result


async def tender_page(api: Api, tender_id: str) -> dict[str, Any]:
    tender = await api.get(f"{PROCUREMENT}/tenders/{tender_id}")
    return {"tender": tender, "today": date.today().isoformat()}
