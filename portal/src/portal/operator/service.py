"""Platform operator: facilities and their lifecycle, identity's client registry,
population figures and municipal mergers, all through the gateway with the operator's
own token (platform-admin)."""

from __future__ import annotations

import re
from typing import Any

from ..api import Api, ApiProblem, ApiResult
from ..catalogue.service import PROCUREMENT, REGISTRY, all_items, names
from ..sessions.service import Session

IDENTITY = "/api/identity/v1"
FACILITY_FIELDS = ("slug", "name", "description", "kind", "theme", "standards", "stage")
FACILITY_PATCH = ("slug", "name", "description", "kind", "theme", "standards")
STAGES = ("initiative", "pilot", "impact-analysis", "implementation", "operational", "retired")
KINDS = ("infrastructure", "application", "service", "standard", "agreement")


async def facilities(api: Api, session: Session) -> list[dict[str, Any]]:
    items = await all_items(api, f"{REGISTRY}/facilities", None, session)
    items.sort(key=lambda f: f["name"].lower())
    return items


async def create_facility(api: Api, session: Session, body: dict[str, Any], key: str) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/facilities",
        session=session,
        json=body,
        headers={"Idempotency-Key": key},
    )


async def facility(api: Api, session: Session, facility_id: str) -> ApiResult:
    return await api.call("GET", f"{REGISTRY}/facilities/{facility_id}", session=session)


async def transitions(api: Api, session: Session, facility_id: str) -> list[dict[str, Any]]:
    return await all_items(
        api, f"{REGISTRY}/facilities/{facility_id}/stage-transitions", None, session
    )


async def change_facility(
    api: Api, session: Session, facility_id: str, body: dict[str, Any], etag: str
) -> ApiResult:
    return await api.merge_patch(f"{REGISTRY}/facilities/{facility_id}", body, etag, session)


async def move_stage(
    api: Api, session: Session, facility_id: str, body: dict[str, Any], key: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/facilities/{facility_id}/stage-transitions",
        session=session,
        json=body,
        headers={"Idempotency-Key": key},
    )


def later_stages(stage: str) -> list[str]:
    """Only forward moves are allowed (the registry refuses the others too)."""
    return list(STAGES[STAGES.index(stage) + 1 :]) if stage in STAGES else []


async def clients(api: Api, session: Session) -> list[dict[str, Any]]:
    items = await all_items(api, f"{IDENTITY}/clients", None, session)
    items.sort(key=lambda c: c["clientId"])
    return items


# --- population figures (reference data for costs per inhabitant) ---------------------

CSV = "text/csv; charset=utf-8"


async def population_figures(api: Api, session: Session) -> list[dict[str, Any]]:
    return await all_items(api, f"{REGISTRY}/population-figures", None, session)


async def import_population(
    api: Api, session: Session, content: bytes, dry_run: bool, key: str
) -> ApiResult:
    """The operator's CSV file as the registry takes it; a dry run only checks."""
    return await api.call(
        "POST",
        f"{REGISTRY}/population-figure-imports",
        session=session,
        params={"dryRun": "true"} if dry_run else None,
        content=content,
        headers={"Content-Type": CSV, "Idempotency-Key": key},
    )


# --- municipal mergers (herindelingen) ---------------------------------------------------

MERGERS = f"{REGISTRY}/municipality-mergers"
APPLIED = f"{PROCUREMENT}/municipality-mergers"
CBS_CODE = re.compile(r"^GM[0-9]{4}$")


async def municipality_by_code(api: Api, session: Session, code: str) -> dict[str, Any] | None:
    page = await api.get(
        f"{REGISTRY}/organisations",
        session=session,
        params={"type": "municipality", "cbsCode": code, "pageSize": 1},
    )
    return page["items"][0] if page["items"] else None


async def mergers(api: Api, session: Session) -> list[dict[str, Any]]:
    """Recent mergers with their municipalities' names (``names``)."""
    page = await api.get(MERGERS, session=session, params={"pageSize": 20})
    items: list[dict[str, Any]] = page["items"]
    ids = {i for m in items for i in (*m["predecessorIds"], m["successorId"])}
    known = await names(api, f"{REGISTRY}/organisations", ids, session)
    for merger in items:
        merger["names"] = {i: known.get(i, {}).get("name", i) for i in ids}
    return items


async def merge(
    api: Api, session: Session, body: dict[str, Any], *, dry_run: bool, key: str
) -> dict[str, Any]:
    """The registry's merger (or its preview)."""
    result = await api.call(
        "POST",
        MERGERS,
        session=session,
        params={"dryRun": "true"} if dry_run else None,
        json=body,
        headers={} if dry_run else {"Idempotency-Key": key},
    )
    merger: dict[str, Any] = result.data
    return merger


async def merger(api: Api, session: Session, merger_id: str) -> dict[str, Any]:
    """The registry's merger, its municipalities' names, and how procurement applied it
    (``applied``: None when it has not yet)."""
    found: dict[str, Any] = await api.get(f"{MERGERS}/{merger_id}", session=session)
    ids = {*found["predecessorIds"], found["successorId"]}
    known = await names(api, f"{REGISTRY}/organisations", ids, session)
    found["names"] = {i: known.get(i, {}).get("name", i) for i in ids}
    try:
        found["applied"] = await api.get(f"{APPLIED}/{merger_id}", session=session)
    except ApiProblem as problem:
        if problem.status != 404:
            raise
        found["applied"] = None
    return found


async def apply_to_enrollments(api: Api, session: Session, merger_id: str) -> dict[str, Any]:
    """Procurement moves the predecessors' enrollments (once per merger: a repeat
    answers the first result)."""
    result = await api.call("POST", APPLIED, session=session, json={"mergerId": merger_id})
    applied: dict[str, Any] = result.data
    return applied
