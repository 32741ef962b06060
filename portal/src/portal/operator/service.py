"""Platform operator: facilities and their lifecycle, and identity's client registry, all
through the gateway with the operator's own token (platform-admin)."""

from __future__ import annotations

from typing import Any

from ..api import Api, ApiResult
from ..catalogue.service import REGISTRY, all_items
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
    return await api.call(
        "PATCH",
        f"{REGISTRY}/facilities/{facility_id}",
        session=session,
        json=body,
        headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )


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
