"""Supplier staff: their organisation's offerings and versions, through the gateway with
the person's token (the registry lets a supplier change only its own)."""

from __future__ import annotations

from typing import Any

from ..api import Api, ApiResult
from ..catalogue.service import REGISTRY, all_items, names
from ..municipality.service import my_organisation
from ..sessions.service import Session

OFFERING_FIELDS = ("facilityId", "name", "description", "productUrl", "priceModel", "standards")
OFFERING_PATCH = OFFERING_FIELDS[1:]
VERSION_FIELDS = ("version", "releaseDate", "endOfSupportDate", "standards", "notes")
VERSION_PATCH = VERSION_FIELDS[1:]
PRICE_MODELS = ("free", "fixed", "subscription", "per-inhabitant", "per-user", "usage-based")


async def offerings(api: Api, session: Session) -> dict[str, Any]:
    organisation = await my_organisation(api, session)
    items = await all_items(
        api, f"{REGISTRY}/offerings", {"supplierId": organisation["id"]}, session
    )
    facilities = await names(
        api, f"{REGISTRY}/facilities", {o["facilityId"] for o in items}, session
    )
    items.sort(key=lambda o: o["name"].lower())
    return {"organisation": organisation, "offerings": items, "facilities": facilities}


async def facilities(api: Api) -> list[dict[str, Any]]:
    items = await all_items(api, f"{REGISTRY}/facilities")
    items.sort(key=lambda f: f["name"].lower())
    return [f for f in items if f.get("stage") != "retired"]


async def create_offering(api: Api, session: Session, body: dict[str, Any], key: str) -> ApiResult:
    organisation = await my_organisation(api, session)
    return await api.call(
        "POST",
        f"{REGISTRY}/offerings",
        session=session,
        json={**body, "supplierId": organisation["id"]},
        headers={"Idempotency-Key": key},
    )


async def offering(api: Api, session: Session, offering_id: str) -> ApiResult:
    return await api.call("GET", f"{REGISTRY}/offerings/{offering_id}", session=session)


async def is_ours(api: Api, session: Session, offering: dict[str, Any]) -> bool:
    """Whether the offering is the person's organisation's (its supplier)."""
    organisation = await my_organisation(api, session)
    return bool(offering.get("supplierId")) and offering["supplierId"] == organisation["id"]


async def versions(api: Api, session: Session, offering_id: str) -> list[dict[str, Any]]:
    return await all_items(api, f"{REGISTRY}/offerings/{offering_id}/versions", None, session)


async def change_offering(
    api: Api, session: Session, offering_id: str, body: dict[str, Any], etag: str
) -> ApiResult:
    return await api.merge_patch(f"{REGISTRY}/offerings/{offering_id}", body, etag, session)


async def create_version(
    api: Api, session: Session, offering_id: str, body: dict[str, Any], key: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/offerings/{offering_id}/versions",
        session=session,
        json=body,
        headers={"Idempotency-Key": key},
    )


async def version(api: Api, session: Session, offering_id: str, version_id: str) -> ApiResult:
    return await api.call(
        "GET", f"{REGISTRY}/offerings/{offering_id}/versions/{version_id}", session=session
    )


async def change_version(
    api: Api, session: Session, offering_id: str, version_id: str, body: dict[str, Any], etag: str
) -> ApiResult:
    return await api.merge_patch(
        f"{REGISTRY}/offerings/{offering_id}/versions/{version_id}", body, etag, session
    )
