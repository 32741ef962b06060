"""Initiatives ranked by support, a municipality's pledges, its decisions ahead and its
costs: the registry's and procurement's APIs through the gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from ..api import Api, ApiResult
from ..catalogue.service import PROCUREMENT, REGISTRY, all_items
from ..municipality.service import my_organisation
from ..sessions.service import Session

PLEDGE_KINDS = ("interest", "pilot", "co-fund")
DECISIONS_WITHIN = "P18M"


async def ranked(api: Api, session: Session | None = None) -> list[dict[str, Any]]:
    """Every initiative being shaped, most supported first (the registry ranks them)."""
    items = await all_items(api, f"{REGISTRY}/initiatives", {}, session)
    items.sort(key=lambda i: i["rank"])
    return items


async def my_pledges(
    api: Api, session: Session, organisation_id: str, initiatives: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """facility id -> this municipality's pledge on it (one pledge per municipality)."""
    pages = await asyncio.gather(
        *(
            all_items(api, f"{REGISTRY}/facilities/{i['facilityId']}/pledges", {}, session)
            for i in initiatives
        )
    )
    mine: dict[str, dict[str, Any]] = {}
    for initiative, pledges in zip(initiatives, pages, strict=True):
        for pledge in pledges:
            if pledge["municipality"]["id"] == organisation_id:
                mine[initiative["facilityId"]] = pledge
    return mine


async def pledge(
    api: Api, session: Session, facility_id: str, body: dict[str, Any], key: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/facilities/{facility_id}/pledges",
        session=session,
        json=body,
        headers={"Idempotency-Key": key},
    )


async def withdraw(api: Api, session: Session, facility_id: str, pledge_id: str) -> None:
    await api.call(
        "DELETE", f"{REGISTRY}/facilities/{facility_id}/pledges/{pledge_id}", session=session
    )


async def decisions(api: Api, session: Session) -> dict[str, Any]:
    """The municipality's coming notice deadlines with what could replace each contract,
    and its annual costs."""
    organisation = await my_organisation(api, session)
    ahead, costs = await asyncio.gather(
        all_items(
            api,
            f"{PROCUREMENT}/decisions-ahead",
            {"municipalityId": organisation["id"], "within": DECISIONS_WITHIN},
            session,
        ),
        api.get(f"{REGISTRY}/organisations/{organisation['id']}/costs", session=session),
    )
    return {"organisation": organisation, "decisions": ahead, "costs": costs}
