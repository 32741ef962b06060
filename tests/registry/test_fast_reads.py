"""The fast path of the most requested reads (servicekit.fastreads) answers exactly as
FastAPI does: for every request, good or bad, the registry with the fast path and the
registry without it give the same status, headers and body. The fast path answers the
good ones and the errors the app has handlers for; invalid parameters go to FastAPI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from registry.config import Settings
from registry.main import FAST_READS, create_app
from servicekit.db import Database
from servicekit.fastreads import FastReadStats
from servicekit.testing import TestIssuer

Maker = Any
COMPARED_HEADERS = (
    "content-type",
    "etag",
    "location",
    "api-version",
    "www-authenticate",
    "retry-after",
    "cache-control",
)


def _app(database: Database, issuer: TestIssuer, *, fast: bool, **kw: Any) -> FastAPI:
    settings = Settings(
        environment="test",
        database_url=database.url,
        otel_sdk_disabled=True,
        log_json=False,
        fast_reads=fast,
    )
    return create_app(settings, database=database, token_verifier=issuer.verifier(), **kw)


@pytest.fixture(scope="module")
def plain_app(registry_db: Database, issuer: TestIssuer) -> FastAPI:
    return _app(registry_db, issuer, fast=False)


@pytest.fixture
async def plain(plain_app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    # Depends on ``client``: the tables are emptied first.
    transport = httpx.ASGITransport(app=plain_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
        yield c


async def _world(
    client: httpx.AsyncClient, tokens: Any, make_org: Maker, make_facility: Maker
) -> dict[str, Any]:
    utrecht = await make_org("municipality", name="Utrecht", oin=tokens.UTRECHT_OIN)
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    facility = await make_facility(name="Telefonie samen", theme="telephony")
    other = await make_facility(name="Netwerk", theme="telephony", kind="service")
    offerings = []
    for name in ("Vaste telefonie", "Mobiele telefonie", "Netwerkbeheer"):
        r = await client.post(
            "/v1/offerings",
            json={"facilityId": facility["id"], "name": name, "priceModel": "per-user"},
            headers=tokens.supplier(),
        )
        assert r.status_code == 201, r.text
        offerings.append(r.json())
    r = await client.post(
        "/v1/usages",
        json={
            "municipalityId": utrecht["id"],
            "facilityId": other["id"],
            "status": "active",
            "startDate": "2024-01-01",
            "contractEndDate": "2026-12-31",
            "noticePeriodMonths": 6,
        },
        headers=tokens.municipality(),
    )
    assert r.status_code == 201, r.text
    return {
        "utrecht": utrecht,
        "facility": facility,
        "other": other,
        "offerings": offerings,
        "usage": r.json(),
    }


def _good_urls(w: dict[str, Any]) -> list[str]:
    f, o, u = w["facility"]["id"], w["offerings"][0]["id"], w["utrecht"]["id"]
    return [
        "/v1/offerings",
        "/v1/offerings?page=1&pageSize=2",
        "/v1/offerings?page=2&pageSize=2",
        f"/v1/offerings?facilityId={f}",
        f"/v1/offerings?facilityId={f.upper()}&q=telefonie",
        "/v1/offerings?q=TELEFONIE&unknown=kept",
        "/v1/offerings?page=7",  # past the end: an empty page
        "/v1/offerings?pageSize=1&pageSize=3",  # repeated: the last one counts
        f"/v1/offerings/{o}",
        "/v1/facilities",
        "/v1/facilities?theme=telephony&kind=service",
        f"/v1/facilities/{f}",
        "/v1/usages",
        f"/v1/usages?facilityId={w['other']['id']}&status=active",
        f"/v1/facilities/{w['facility']['id']}/radar?within=P18M&asOf=2026-01-15",
        f"/v1/facilities/{w['facility']['id']}/radar?within=P1Y",
        f"/v1/organisations/{u}/radar?within=P24M&asOf=2026-01-15",
        "/v1/search?q=telefonie",
        "/v1/search?q=telefonie&type=offering&pageSize=1",
        "/v1/search?q=netwerk&kind=service",
    ]


def _invalid_parameters(w: dict[str, Any]) -> list[str]:
    """Requests whose parameters do not validate: FastAPI reports each one."""
    f = w["facility"]["id"]
    return [
        "/v1/offerings?page=0",
        "/v1/offerings?pageSize=101",
        "/v1/offerings?page=abc&pageSize=0",
        "/v1/offerings?facilityId=not-a-uuid",
        "/v1/offerings?q=",
        f"/v1/offerings?q={'x' * 101}",
        "/v1/offerings/not-a-uuid",
        "/v1/facilities?kind=spaceship",
        "/v1/usages?status=gone",
        f"/v1/facilities/{f}/radar?within=P18M&asOf=yesterday",
        "/v1/search",
        "/v1/search?q=",
        "/v1/search?q=x&type=person",
    ]


def _refused(w: dict[str, Any]) -> list[str]:
    """Valid parameters, but the service refuses: an error the app's handlers answer."""
    f = w["facility"]["id"]
    return [
        f"/v1/offerings/{uuid.uuid4()}",
        f"/v1/facilities/{uuid.uuid4()}",
        f"/v1/facilities/{f}/radar?within=18M",
        f"/v1/facilities/{uuid.uuid4()}/radar?within=P18M",
        f"/v1/organisations/{uuid.uuid4()}/radar",
    ]


async def _same(
    fast: httpx.AsyncClient, plain: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> httpx.Response:
    a = await fast.get(url, headers=headers)
    b = await plain.get(url, headers=headers)
    assert a.status_code == b.status_code, (url, a.text, b.text)
    if a.headers.get("content-type", "").endswith("json"):
        assert a.json() == b.json(), url
    else:
        assert a.content == b.content, url
    for name in COMPARED_HEADERS:
        assert a.headers.get(name) == b.headers.get(name), (url, name)
    assert a.headers["x-request-id"]
    return a


def _stats(app: FastAPI) -> FastReadStats:
    stats = app.state.fast_reads
    assert isinstance(stats, FastReadStats)
    return stats


async def test_good_reads_are_answered_by_the_fast_path_as_fastapi_would(
    client: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    registry_app: FastAPI,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    stats = _stats(registry_app)
    urls = _good_urls(w)
    answered, handed_on = stats.answered, stats.handed_on
    for url in urls:
        response = await _same(client, plain, url, tokens.reader())
        assert response.status_code == 200, (url, response.text)
    assert stats.answered - answered == len(urls)
    assert stats.handed_on == handed_on


async def test_errors_are_answered_as_fastapi_would(
    client: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    registry_app: FastAPI,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
    issuer: TestIssuer,
) -> None:
    """Invalid parameters go to FastAPI (it reports them all); errors raised by a
    dependency or the endpoint are answered by the app's own handler for them. Either
    way the answer is FastAPI's."""
    w = await _world(client, tokens, make_org, make_facility)
    stats = _stats(registry_app)
    answered, handed_on = stats.answered, stats.handed_on
    invalid = _invalid_parameters(w)
    for url in invalid:
        r = await _same(client, plain, url, tokens.reader())
        assert r.status_code == 400, (url, r.text)
        assert r.json()["invalidParams"], url
    assert (stats.answered, stats.handed_on - handed_on) == (answered, len(invalid))

    statuses = []
    for url in _refused(w):
        statuses.append((await _same(client, plain, url, tokens.reader())).status_code)
    good = _good_urls(w)[0]
    for headers in (
        {},  # no token
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer not-a-token"},
        issuer.headers(scopes=["procurement:read"]),  # wrong scope
        issuer.headers(scopes=["registry:read"], lifetime=-120),  # expired
        {**tokens.reader(), "Accept": "text/html"},
    ):
        statuses.append((await _same(client, plain, good, headers)).status_code)
    assert statuses == [404, 404, 400, 404, 404, 401, 401, 401, 403, 401, 406]
    assert stats.answered - answered == len(statuses)
    assert stats.handed_on - handed_on == len(invalid)


async def test_other_methods_and_routes_are_untouched(
    client: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    registry_app: FastAPI,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    stats = _stats(registry_app)
    before = (stats.answered, stats.handed_on)
    await _same(client, plain, f"/v1/organisations/{w['utrecht']['id']}", tokens.reader())
    await _same(client, plain, f"/v1/usages/{w['usage']['id']}", tokens.reader())
    r = await client.head(f"/v1/offerings/{w['offerings'][0]['id']}", headers=tokens.reader())
    assert r.status_code in (200, 405)
    r = await client.post("/v1/search", json={}, headers=tokens.reader())
    assert r.status_code == 405
    assert (stats.answered, stats.handed_on) == before


async def test_dependency_overrides_are_honoured(
    client: httpx.AsyncClient,
    registry_app: FastAPI,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
) -> None:
    """Tests that replace a dependency get FastAPI's resolution (the fast path steps aside)."""
    from servicekit.pagination import PageParams, page_params

    await _world(client, tokens, make_org, make_facility)

    async def one_per_page() -> PageParams:
        return PageParams(page=1, page_size=1)

    registry_app.dependency_overrides[page_params] = one_per_page
    try:
        r = await client.get("/v1/offerings?pageSize=50", headers=tokens.reader())
    finally:
        registry_app.dependency_overrides.clear()
    assert r.status_code == 200
    assert r.json()["pageSize"] == 1
    assert len(r.json()["items"]) == 1


async def test_metrics_and_trace_name_the_route(
    registry_db: Database,
    issuer: TestIssuer,
    client: httpx.AsyncClient,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
) -> None:
    w = await _world(client, tokens, make_org, make_facility)
    spans = InMemorySpanExporter()
    settings = Settings(
        environment="test", database_url=registry_db.url, log_json=False, fast_reads=True
    )
    traced = create_app(
        settings,
        database=registry_db,
        token_verifier=issuer.verifier(),
        span_processors=[SimpleSpanProcessor(spans)],
    )
    transport = httpx.ASGITransport(app=traced)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
        r = await c.get(f"/v1/offerings/{w['offerings'][0]['id']}", headers=tokens.reader())
        assert r.status_code == 200
        metrics = (await c.get("/metrics")).text
    assert _stats(traced).answered == 1
    server = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert [s.name for s in server] == ["GET /v1/offerings/{offeringId}"]
    assert server[0].attributes is not None
    assert server[0].attributes["http.route"] == "/v1/offerings/{offeringId}"
    assert server[0].attributes["http.response.status_code"] == 200
    assert (
        'http_server_requests_total{method="GET",route="/v1/offerings/{offeringId}",status="200"}'
        in metrics
    )
    assert 'http_server_fast_reads_total{result="answered"} 1.0' in metrics


def test_the_planned_routes_are_the_named_ones(registry_app: FastAPI) -> None:
    assert set(FAST_READS) >= {"listOfferings", "getOffering", "search", "getFacilityRadar"}
    assert isinstance(registry_app.state.fast_reads, FastReadStats)
