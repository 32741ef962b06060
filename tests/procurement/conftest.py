"""Procurement test fixtures: a migrated database, the app with a test token issuer, a
fake registry and token endpoint at the HTTP layer (respx), and a settable clock."""

from __future__ import annotations

import csv
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from procurement.config import Settings
from procurement.db import load_models, metadata
from procurement.main import create_app, database_for
from servicekit.auth import LOA_SUBSTANTIAL
from servicekit.db import Database
from servicekit.testing import TestIssuer, clear_tables, fresh_database_url, migrated_database

HERE = Path(__file__).parent
REGISTRY = "http://registry.test"
TOKEN_URL = "http://identity.test/auth/token"
LEAD_OIN = "00000003273237580000"
OTHER_COOP_OIN = "00000003999999990000"


def municipality_oin(cbs_code: str) -> str:
    """A 20-digit OIN for a test municipality (the CSV has none)."""
    return f"00000001{int(cbs_code[2:]):09d}000"


def load_municipalities() -> list[dict[str, Any]]:
    with (HERE / "data" / "municipalities.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"samen-test/{r['cbs_code']}")),
            "type": "municipality",
            "name": r["common_name"] or r["name"],
            "cbsCode": r["cbs_code"],
            "oin": municipality_oin(r["cbs_code"]),
            "kvkNumber": None,
            "province": r["province"],
            "memberIds": [],
        }
        for r in rows
    ]


MUNICIPALITIES = load_municipalities()


@dataclass
class FakeRegistry:
    """Registry API contract (COMMON.md) answered from dicts; `down` simulates an outage."""

    organisations: dict[str, dict[str, Any]] = field(default_factory=dict)
    facilities: dict[str, dict[str, Any]] = field(default_factory=dict)
    usages: list[dict[str, Any]] = field(default_factory=list)
    radars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mergers: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False
    token_requests: int = 0
    calls: list[str] = field(default_factory=list)

    def seed(self) -> None:
        self.facility = {
            "id": str(uuid.uuid4()),
            "slug": "gezamenlijke-telefonie",
            "name": "Gezamenlijke telefonie",
            "kind": "agreement",
            "stage": "operational",
        }
        self.retired = {**self.facility, "id": str(uuid.uuid4()), "stage": "retired"}
        self.facilities = {f["id"]: f for f in (self.facility, self.retired)}
        self.lead = {
            "id": str(uuid.uuid4()),
            "type": "cooperation",
            "name": "VNG Realisatie inkoop",
            "cbsCode": None,
            "oin": LEAD_OIN,
            "kvkNumber": None,
            "province": None,
            "memberIds": [],
        }
        self.other_coop = {**self.lead, "id": str(uuid.uuid4()), "oin": OTHER_COOP_OIN}
        self.supplier = {
            **self.lead,
            "id": str(uuid.uuid4()),
            "type": "supplier",
            "oin": None,
            "kvkNumber": "12345678",
        }
        self.organisations = {
            o["id"]: o for o in (self.lead, self.other_coop, self.supplier, *MUNICIPALITIES)
        }

    def _auth_ok(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == "Bearer registry-token"

    def token(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("identity down", request=request)
        self.token_requests += 1
        assert request.headers["authorization"].startswith("Basic ")
        return httpx.Response(
            200, json={"access_token": "registry-token", "token_type": "Bearer", "expires_in": 300}
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("registry down", request=request)
        self.calls.append(request.url.path)
        if not self._auth_ok(request):
            return httpx.Response(401, json={"status": 401})
        path = request.url.path
        params = request.url.params
        if path.startswith("/v1/municipality-mergers/"):
            found = self.mergers.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else httpx.Response(404, json={})
        if path.startswith("/v1/facilities/"):
            found = self.facilities.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else httpx.Response(404, json={})
        if path.startswith("/v1/organisations/") and path.endswith("/radar"):
            org_id = path.split("/")[3]
            if org_id not in self.radars:
                return httpx.Response(404, json={})
            return httpx.Response(200, json=_page(self.radars[org_id], params))
        if path.startswith("/v1/organisations/"):
            found = self.organisations.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else httpx.Response(404, json={})
        if path == "/v1/organisations":
            items = [
                o
                for o in self.organisations.values()
                if (not params.get("oin") or o["oin"] == params["oin"])
                and (not params.get("type") or o["type"] == params["type"])
            ]
            return httpx.Response(200, json=_page(items, params))
        if path == "/v1/usages":
            items = [
                u
                for u in self.usages
                if (
                    not params.get("municipalityId")
                    or u["municipalityId"] == params["municipalityId"]
                )
                and (not params.get("facilityId") or u["facilityId"] == params["facilityId"])
                and (not params.get("status") or u["status"] == params["status"])
            ]
            return httpx.Response(200, json=_page(items, params))
        return httpx.Response(404, json={})

    def add_usage(self, municipality: dict[str, Any], end: date, status: str = "active") -> None:
        self.usages.append(
            {
                "id": str(uuid.uuid4()),
                "municipalityId": municipality["id"],
                "facilityId": self.facility["id"],
                "offeringId": None,
                "versionId": None,
                "status": status,
                "startDate": "2020-01-01",
                "contractEndDate": end.isoformat(),
                "noticePeriodMonths": 3,
                "contractValueBand": None,
            }
        )


def _page(items: list[dict[str, Any]], params: Any) -> dict[str, Any]:
    """The registry's paging (pageSize at most 100, pages from 1)."""
    page, size = int(params.get("page", 1)), min(100, int(params.get("pageSize", 20)))
    chunk = items[(page - 1) * size : page * size]
    return {"items": chunk, "total": len(items), "page": page, "pageSize": size, "_links": {}}


class Clock:
    """Real time unless a test pins it."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)


@pytest.fixture(scope="session")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    load_models()
    async with fresh_database_url("procurement", tmp_path_factory.mktemp("procurement")) as url:
        await (await migrated_database("procurement.migrations", url)).dispose()
        db = database_for(url)  # the service's own pool settings
        yield db
        await db.dispose()


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry()
    fake.seed()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(TOKEN_URL).mock(side_effect=fake.token)
        mock.route(host="registry.test").mock(side_effect=fake.handle)
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(
    database: Database, issuer: TestIssuer, registry: FakeRegistry, clock: Clock
) -> AsyncIterator[Any]:
    await clear_tables(database, metadata)
    settings = Settings(
        environment="test",
        database_url=database.url,
        registry_url=REGISTRY,
        token_url=TOKEN_URL,
        registry_timeout_seconds=1.0,
        otel_sdk_disabled=True,
    )
    application = create_app(settings, database=database, token_verifier=issuer.verifier())
    application.state.clock = clock
    yield application
    await application.state.registry.aclose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://procurement.test") as c:
        yield c


@pytest.fixture
def lead_headers(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(
        sub="lead-staff",
        # As identity grants a lead party (role procurement-manager).
        scopes=["procurement:read", "procurement:manage", "registry:contracts"],
        org_id=LEAD_OIN,
        org_type="cooperation",
    )


def municipality_headers(
    issuer: TestIssuer, municipality: dict[str, Any], acr: str = LOA_SUBSTANTIAL
) -> dict[str, str]:
    return issuer.headers(
        sub=f"staff-{municipality['cbsCode']}",
        scopes=["procurement:read", "procurement:enroll"],
        org_id=municipality["oin"],
        org_type="municipality",
        acr=acr,
    )


def tender_body(registry: FakeRegistry, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "facilityId": registry.facility["id"],
        "leadPartyId": registry.lead["id"],
        "title": "Gezamenlijke aanbesteding telefonie 2030",
        "description": "Vaste en mobiele telefonie voor deelnemende gemeenten",
        "procedure": "open",
        "estimatedValue": {"amount": 1200000, "currency": "EUR"},
        "enrollmentOpensAt": (now - timedelta(days=1)).isoformat(),
        "enrollmentClosesAt": (now + timedelta(days=30)).isoformat(),
        "plannedStartDate": "2030-01-01",
        "contractDurationMonths": 48,
        "lots": [
            {"title": "Vaste telefonie", "unit": "aansluiting", "description": "Vast"},
            {
                "title": "Mobiele telefonie",
                "unit": "abonnement",
                "estimatedValue": {"amount": 800000},
            },
        ],
    }
    body.update(overrides)
    return body


async def open_tender(
    client: httpx.AsyncClient, registry: FakeRegistry, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    created = await client.post(
        "/v1/tenders", json=tender_body(registry, **overrides), headers=headers
    )
    assert created.status_code == 201, created.text
    tender_id = created.json()["id"]
    opened = await client.post(f"/v1/tenders/{tender_id}/publication", headers=headers)
    assert opened.status_code == 200, opened.text
    data: dict[str, Any] = opened.json()
    return data


def amsterdam_today() -> date:
    """Today as a person in the Netherlands writes it (the services' day; UTC's differs
    from 23:00 or 22:00 UTC on)."""
    return datetime.now(ZoneInfo("Europe/Amsterdam")).date()


def mandate(signer: str = "A. de Vries", role: str = "wethouder") -> dict[str, Any]:
    return {
        "signerName": signer,
        "signerRole": role,
        "signedDate": amsterdam_today().isoformat(),
        "authorisesLeadParty": True,
    }
