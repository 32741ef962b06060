"""A municipality's landscape (the offerings it uses and the integrations between them);
a supplier records an integration of its offering."""

from __future__ import annotations

from typing import Any

from ..api import Api, ApiResult
from ..catalogue.service import REGISTRY, all_items
from ..municipality.service import my_organisation
from ..sessions.service import Session
from ..web.values import payload

FIELDS = ("targetOfferingId", "kind", "direction", "status", "standards", "description")
KINDS = ("api", "file-transfer", "digikoppeling", "message-queue", "other")
DIRECTIONS = ("one-way", "two-way")
STATUSES = ("planned", "active")
PATCH_FIELDS = ("status", "direction", "standards", "description")
# Forward only: the statuses an integration may move to from each one (the registry's rule).
NEXT_STATUSES = {
    "planned": (*STATUSES, "ended"),
    "active": ("active", "ended"),
    "ended": ("ended",),
}


async def landscape(api: Api, session: Session) -> dict[str, Any]:
    organisation = await my_organisation(api, session)
    data: dict[str, Any] = await api.get(
        f"{REGISTRY}/organisations/{organisation['id']}/landscape", session=session
    )
    offerings = {o["offeringId"]: o["offeringName"] for o in data["offerings"]}
    return {"organisation": organisation, "landscape": data, "offering_names": offerings}


async def targets(api: Api, session: Session, offering_id: str) -> list[dict[str, Any]]:
    """The offerings an integration of this one can go to, by name."""
    items = await all_items(api, f"{REGISTRY}/offerings", None, session)
    items.sort(key=lambda o: o["name"].lower())
    return [o for o in items if o["id"] != offering_id]


async def record(
    api: Api, session: Session, offering_id: str, fields: dict[str, str], key: str
) -> ApiResult:
    body = payload(fields, FIELDS, lists=("standards",))
    return await api.call(
        "POST",
        f"{REGISTRY}/integrations",
        session=session,
        json={**body, "sourceOfferingId": offering_id},
        headers={"Idempotency-Key": key},
    )


async def integration(api: Api, session: Session, integration_id: str) -> ApiResult:
    return await api.call("GET", f"{REGISTRY}/integrations/{integration_id}", session=session)


async def change(
    api: Api, session: Session, integration_id: str, fields: dict[str, str], etag: str
) -> ApiResult:
    body = payload(fields, PATCH_FIELDS, lists=("standards",), patch=True)
    return await api.call(
        "PATCH",
        f"{REGISTRY}/integrations/{integration_id}",
        session=session,
        json=body,
        headers={"If-Match": etag},
    )
