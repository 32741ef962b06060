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


# --- proposing, the initiative's own page: pilot participants and impact analyses -----

PROPOSAL_FIELDS = ("name", "slug", "description", "kind", "theme")
PROPOSERS = ("municipality", "cooperation")
OUTCOMES = ("positive", "conditional", "negative")
ANALYSIS_FIELDS = ("outcome", "summary", "completedOn", "documentUrl")
# Stages in which the registry accepts an impact analysis.
SHAPING = ("initiative", "pilot", "impact-analysis")


async def propose(api: Api, session: Session, body: dict[str, Any], key: str) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/initiatives",
        session=session,
        json=body,
        headers={"Idempotency-Key": key},
    )


async def initiative(api: Api, facility_id: str, session: Session | None) -> dict[str, Any]:
    """The initiative with its supporters, pilot participants and impact analyses."""
    base = f"{REGISTRY}/facilities/{facility_id}"
    item, pledges, participants, analyses = await asyncio.gather(
        api.get(f"{REGISTRY}/initiatives/{facility_id}", session=session),
        all_items(api, f"{base}/pledges", {}, session),
        all_items(api, f"{base}/pilot-participants", {}, session),
        all_items(api, f"{base}/impact-analyses", {}, session),
    )
    return {
        "initiative": item,
        "pledges": pledges,
        "participants": sorted(participants, key=lambda p: p["municipality"]["name"]),
        "analyses": list(reversed(analyses)),  # newest first: the latest one counts
    }


async def join_pilot(
    api: Api, session: Session, facility_id: str, municipality_id: str, key: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/facilities/{facility_id}/pilot-participants",
        session=session,
        json={"municipalityId": municipality_id},
        headers={"Idempotency-Key": key},
    )


async def leave_pilot(api: Api, session: Session, facility_id: str, participant_id: str) -> None:
    await api.call(
        "DELETE",
        f"{REGISTRY}/facilities/{facility_id}/pilot-participants/{participant_id}",
        session=session,
    )


async def record_analysis(
    api: Api, session: Session, facility_id: str, body: dict[str, Any], key: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/facilities/{facility_id}/impact-analyses",
        session=session,
        json=body,
        headers={"Idempotency-Key": key},
    )
