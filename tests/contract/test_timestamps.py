"""Every timestamp every service answers is RFC 3339 with an offset, on SQLite as on
PostgreSQL: a create and the reads of what was made, in each service, and every value
that looks like a date-time in those answers is checked."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from contractkit import (
    FACILITY_ID,
    HEADERS,
    LEAD_ID,
    identity_app,
    procurement_app,
    registry_app,
)

DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def timestamps(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str) and DATE_TIME.match(value):
        return [(path, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in timestamps(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in timestamps(v, f"{path}[{i}]")]
    return []


async def answers(app: Any, service: str, calls: list[tuple[str, str, Any]]) -> list[Any]:
    bodies = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://localhost"
    ) as client:
        made: dict[str, Any] = {}
        for method, path, body in calls:
            r = await client.request(
                method, path.format(**made), json=body, headers=HEADERS[service]
            )
            assert r.status_code < 300, (path, r.text)
            if method == "POST":
                made["id"] = r.json()["id"]
            bodies.append(r.json())
    return bodies


async def test_every_timestamp_has_an_offset(contract_databases: dict[str, str]) -> None:
    now = datetime.now(UTC)
    tender = {
        "facilityId": FACILITY_ID, "leadPartyId": LEAD_ID, "title": "Telefonie 2030",
        "procedure": "open", "estimatedValue": {"amount": 1000}, "plannedStartDate": "2031-01-01",
        "enrollmentOpensAt": (now + timedelta(days=1)).isoformat(),
        "enrollmentClosesAt": (now + timedelta(days=30)).isoformat(),
        "contractDurationMonths": 12, "lots": [{"title": "Vast", "unit": "aansluiting"}],
    }  # fmt: skip
    client = {
        "clientId": f"timestamps-{uuid.uuid4().hex[:8]}", "name": "Tijden",
        "grantType": "authorization_code", "tokenEndpointAuthMethod": "client_secret_basic",
        "redirectUris": ["https://tijden.example.nl/callback"], "allowedScopes": ["openid"],
        "minimumLoa": "http://eidas.europa.eu/LoA/substantial",
    }  # fmt: skip
    facility = {"slug": f"tijden-{uuid.uuid4().hex[:8]}", "name": "Tijden", "kind": "service",
                "theme": "tijd"}  # fmt: skip
    found = []
    for app, service, calls in (
        (procurement_app(), "procurement", [
            ("POST", "/v1/tenders", tender), ("GET", "/v1/tenders/{id}", None),
            ("GET", "/v1/tenders/{id}/history", None), ("GET", "/v1/tenders", None),
        ]),
        (identity_app(), "identity", [
            ("POST", "/v1/clients", client), ("GET", "/v1/clients", None),
        ]),
        (registry_app(), "registry", [
            ("POST", "/v1/facilities", facility), ("GET", "/v1/facilities/{id}", None),
            ("GET", "/v1/events", None),
            ("POST", "/v1/subscriptions", {"url": "https://tijden.example.nl/hook"}),
            ("GET", "/v1/subscriptions/{id}", None),
        ]),
    ):  # fmt: skip
        for body in await answers(app, service, calls):
            found += [(service, *t) for t in timestamps(body)]
    services = {service for service, _path, _value in found}
    assert services == {"procurement", "identity", "registry"}, found
    naive = [t for t in found if not RFC3339.match(t[2])]
    assert not naive, naive
