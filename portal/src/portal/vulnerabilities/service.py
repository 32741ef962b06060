"""Vulnerabilities: a supplier records one in versions of its offering; a municipality
sees which of the versions it runs are vulnerable (its exposure is shown to itself only:
the registry answers with the person's token)."""

from __future__ import annotations

import re
from typing import Any

from ..api import Api, ApiResult
from ..catalogue.service import REGISTRY, all_items, names
from ..municipality.service import my_organisation
from ..sessions.service import Session
from ..web.values import payload

FIELDS = ("cveId", "cvssScore", "cvssVector", "description", "fixedInVersion")
VERSIONS_FIELD = "affectedVersionIds"
VERSION_BOX = "version-"
SCORE = re.compile(r"[0-9]{1,3}([.,][0-9]{1,3})?")


async def of_offering(api: Api, session: Session, offering_id: str) -> list[dict[str, Any]]:
    return await all_items(api, f"{REGISTRY}/vulnerabilities", {"offeringId": offering_id}, session)


def body_of(fields: dict[str, str], versions: list[dict[str, Any]]) -> dict[str, Any]:
    """The API body from the form: the score as a number (a Dutch decimal comma too), the
    versions from their check boxes."""
    body = payload(fields, FIELDS)
    score = str(body.get("cvssScore", ""))
    if SCORE.fullmatch(score):  # else sent as typed: the API says what is wrong with it
        body["cvssScore"] = float(score.replace(",", "."))
    body[VERSIONS_FIELD] = [v["id"] for v in versions if fields.get(VERSION_BOX + v["id"])]
    return body


async def record(
    api: Api, session: Session, offering_id: str, body: dict[str, Any], key: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/vulnerabilities",
        session=session,
        json={**body, "offeringId": offering_id},
        headers={"Idempotency-Key": key},
    )


async def vulnerability(api: Api, session: Session, vulnerability_id: str) -> ApiResult:
    return await api.call("GET", f"{REGISTRY}/vulnerabilities/{vulnerability_id}", session=session)


async def withdraw(
    api: Api, session: Session, vulnerability_id: str, reason: str, etag: str
) -> ApiResult:
    return await api.call(
        "POST",
        f"{REGISTRY}/vulnerabilities/{vulnerability_id}/withdrawal",
        session=session,
        json={"reason": reason},
        headers={"If-Match": etag},
    )


async def exposures(api: Api, session: Session) -> dict[str, Any]:
    organisation = await my_organisation(api, session)
    items = await all_items(
        api, f"{REGISTRY}/organisations/{organisation['id']}/exposures", None, session
    )
    offerings = await names(api, f"{REGISTRY}/offerings", {e["offeringId"] for e in items}, session)
    return {"organisation": organisation, "exposures": items, "offerings": offerings}
