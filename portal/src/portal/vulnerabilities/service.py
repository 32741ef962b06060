"""Vulnerabilities: a supplier records one in versions of its offering; a municipality
sees which of the versions it runs are vulnerable (its exposure is shown to itself only:
the registry answers with the person's token)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from ..api import Api, ApiResult
from ..catalogue.service import REGISTRY, all_items, names
from ..municipality.service import my_organisation
from ..sessions.service import Session
from ..web.values import as_fields, payload

FIELDS = ("cveId", "cvssScore", "cvssVector", "description", "fixedInVersion")
PATCH_FIELDS = ("cvssScore", "cvssVector", "description", "fixedInVersion")
AFFECTED = "affectedVersions"
VERSIONS_FIELD = "affectedVersionIds"
VERSION_BOX = "version-"
SCORE = re.compile(r"[0-9]{1,3}([.,][0-9]{1,3})?")


async def of_offering(api: Api, session: Session, offering_id: str) -> list[dict[str, Any]]:
    return await all_items(api, f"{REGISTRY}/vulnerabilities", {"offeringId": offering_id}, session)


def body_of(
    fields: dict[str, str], versions: list[dict[str, Any]], patch: bool = False
) -> dict[str, Any]:
    """The API body from the form: the score as a number (a Dutch decimal comma too), the
    versions from their check boxes."""
    body = payload(fields, PATCH_FIELDS if patch else FIELDS, patch=patch)
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


def as_form(data: dict[str, Any]) -> dict[str, str]:
    """A vulnerability as form values: its fields, one ticked box per affected version and
    the affected versions by label (what a conflict shows)."""
    fields = as_fields(data, PATCH_FIELDS)
    for affected in data.get(AFFECTED, []):
        fields[VERSION_BOX + affected["versionId"]] = "yes"
    fields[AFFECTED] = ", ".join(a["version"] for a in data.get(AFFECTED, []))
    return fields


def ticked(fields: dict[str, str], versions: list[dict[str, Any]]) -> str:
    """The labels of the versions ticked in the form, as ``as_form`` gives them."""
    return ", ".join(v["version"] for v in versions if fields.get(VERSION_BOX + v["id"]))


async def change(
    api: Api, session: Session, vulnerability_id: str, body: dict[str, Any], etag: str
) -> ApiResult:
    return await api.call(
        "PATCH",
        f"{REGISTRY}/vulnerabilities/{vulnerability_id}",
        session=session,
        json=body,
        headers={"If-Match": etag},
    )


async def all_with_exposure(api: Api, session: Session) -> dict[str, Any]:
    """Every vulnerability, most severe first, with how many municipalities are exposed
    (the operator may read everyone's exposure; counted per municipality, not per usage)."""
    items = await all_items(api, f"{REGISTRY}/vulnerabilities", None, session)
    items.sort(key=lambda v: (v["status"] != "published", -v["cvssScore"], v["cveId"]))
    exposures = await asyncio.gather(
        *(all_items(api, f"{REGISTRY}/vulnerabilities/{v['id']}/exposures", None, session)
          for v in items)
    )  # fmt: skip
    for item, rows in zip(items, exposures, strict=True):
        item["exposedCount"] = len({r["municipalityId"] for r in rows})
    offerings = await names(api, f"{REGISTRY}/offerings", {v["offeringId"] for v in items}, session)
    return {"vulnerabilities": items, "offerings": offerings}


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
