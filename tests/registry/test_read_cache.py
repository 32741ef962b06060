"""Search and radar answers are reused only while the registry is unchanged: a change
through this app or through another replica on the same database is in the very next
answer, one made outside the API within max_age (plus one background computation);
errors are never stored; concurrent identical requests after a change share one
computation."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from registry.config import Settings
from registry.main import create_app
from registry.readcache import ENTRY_OVERHEAD, ReadCache, ReadCacheCollector
from registry.search import service as search_service
from registry.usages import radar as usage_service
from servicekit.db import Database
from servicekit.responses import PageBody
from servicekit.testing import TestIssuer

Maker = Any
AS_OF = "2026-01-15"


@pytest.fixture
async def replica(registry_db: Database, issuer: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    """A second registry process on the same database (its own cache and engine)."""
    settings = Settings(
        environment="test", database_url=registry_db.url, otel_sdk_disabled=True, log_json=False
    )
    database = Database(registry_db.url)
    app = create_app(settings, database=database, token_verifier=issuer.verifier())
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica.test") as c:
            yield c
    finally:
        await database.dispose()


@pytest.fixture
def search_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = search_service.search

    async def counted(database: Any, query: Any) -> Any:
        calls.append(query.q)
        await asyncio.sleep(0.01)  # long enough for concurrent requests to overlap
        return await original(database, query)

    monkeypatch.setattr(search_service, "search", counted)
    return calls


async def _hits(client: httpx.AsyncClient, tokens: Any, q: str) -> list[str]:
    r = await client.get("/v1/search", params={"q": q}, headers=tokens.reader())
    assert r.status_code == 200, r.text
    return [hit["name"] for hit in r.json()["items"]]


async def _offering(
    client: httpx.AsyncClient, tokens: Any, facility: dict[str, Any], name: str
) -> dict[str, Any]:
    r = await client.post(
        "/v1/offerings",
        json={"facilityId": facility["id"], "name": name, "priceModel": "free"},
        headers=tokens.supplier(),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_search_is_reused_until_a_change_then_sees_it_on_every_replica(
    client: httpx.AsyncClient,
    replica: httpx.AsyncClient,
    registry_app: FastAPI,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
    search_calls: list[str],
) -> None:
    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    facility = await make_facility(slug="gt", name="Telefonie collectief", theme="telephony")
    assert await _hits(client, tokens, "telefonie") == ["Telefonie collectief"]
    assert await _hits(client, tokens, "telefonie") == ["Telefonie collectief"]
    assert search_calls == ["telefonie"]  # the second answer was reused

    # Written through this app: the next search has it.
    await _offering(client, tokens, facility, "Telefonie Zakelijk")
    assert set(await _hits(client, tokens, "telefonie")) == {
        "Telefonie collectief",
        "Telefonie Zakelijk",
    }
    # Written through another replica: this app's next search has it too.
    assert len(await _hits(replica, tokens, "telefonie")) == 2
    await _offering(replica, tokens, facility, "Telefonie Mobiel")
    assert len(await _hits(client, tokens, "telefonie")) == 3
    assert len(search_calls) == 4  # two changes: two recomputations here, one on the replica
    cache: ReadCache = registry_app.state.read_cache
    assert cache.hits >= 1
    metrics = (await client.get("/metrics")).text
    assert f'registry_read_cache_requests_total{{result="hit"}} {float(cache.hits)}' in metrics
    assert f'registry_read_cache_requests_total{{result="miss"}} {float(cache.misses)}' in metrics


async def test_concurrent_identical_searches_after_a_change_share_one_computation(
    client: httpx.AsyncClient, tokens: Any, make_facility: Maker, search_calls: list[str]
) -> None:
    await make_facility(slug="ibd", name="Informatiebeveiligingsdienst", theme="security")
    answers = await asyncio.gather(
        *(_hits(client, tokens, "informatiebeveiligingsdienst") for _ in range(8))
    )
    assert all(a == ["Informatiebeveiligingsdienst"] for a in answers)
    assert search_calls == ["informatiebeveiligingsdienst"]


async def test_changes_outside_the_api_show_after_max_age(
    client: httpx.AsyncClient,
    registry_app: FastAPI,
    registry_db: Database,
    tokens: Any,
    make_facility: Maker,
) -> None:
    facility = await make_facility(slug="ggi", name="GGI-Netwerk", theme="connectivity")
    assert await _hits(client, tokens, "netwerk") == ["GGI-Netwerk"]
    # A database administrator renames the facility by hand: no event is written.
    async with registry_db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE facilities SET name = 'GGI-Netwerk 2' WHERE slug = 'ggi'"),
        )
    cache: ReadCache = registry_app.state.read_cache
    assert await _hits(client, tokens, "netwerk") == ["GGI-Netwerk"]  # still the stored answer
    cache.max_age_seconds = 0.0
    try:
        # Past max_age: answered as stored once more while it is recomputed meanwhile.
        assert await _hits(client, tokens, "netwerk") == ["GGI-Netwerk"]
        for _ in range(100):
            if not cache._computing:
                break
            await asyncio.sleep(0.01)
        cache.max_age_seconds = 60.0
        assert await _hits(client, tokens, "netwerk") == ["GGI-Netwerk 2"]
    finally:
        cache.max_age_seconds = 60.0
    assert facility["slug"] == "ggi"


async def test_radar_follows_usage_changes_and_errors_are_not_stored(
    client: httpx.AsyncClient,
    replica: httpx.AsyncClient,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = await make_facility(slug="gt", theme="telephony", stage="operational")
    other = await make_facility(slug="lokaal", theme="telephony")
    oin = "00000001000000042000"
    municipality = await make_org("municipality", name="M42", oin=oin)
    url = f"/v1/facilities/{target['id']}/radar"
    params = {"within": "P18M", "asOf": AS_OF}

    async def radar(on: httpx.AsyncClient) -> list[str]:
        r = await on.get(url, params=params, headers=tokens.contracts_reader())
        assert r.status_code == 200, r.text
        return [item["municipalityId"] for item in r.json()["items"]]

    assert await radar(client) == []
    r = await replica.post(
        "/v1/usages",
        json={"municipalityId": municipality["id"], "facilityId": other["id"],
              "status": "active", "startDate": "2024-01-01", "contractEndDate": "2026-06-30"},
        headers=tokens.municipality(oin=oin),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert await radar(client) == [municipality["id"]]

    # An unknown facility is a 404 every time (an error is not an answer to keep).
    calls = 0
    original = usage_service.facility_radar

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(usage_service, "facility_radar", counted)
    unknown = "/v1/facilities/00000000-0000-0000-0000-000000000000/radar"
    for _ in range(2):
        r = await client.get(unknown, headers=tokens.contracts_reader())
        assert r.status_code == 404
    assert calls == 2


async def test_a_cache_of_size_zero_computes_every_answer(registry_db: Database) -> None:
    cache = ReadCache(max_bytes=0)
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert [await cache.get(registry_db, "k", compute) for _ in range(3)] == [1, 2, 3]
    assert (cache.hits, cache.misses) == (0, 3)
    on = ReadCache(max_bytes=1 << 20)
    assert [await on.get(registry_db, "k", compute) for _ in range(3)] == [4, 4, 4]
    assert (on.hits, on.misses) == (2, 1)


class _FixedFeed:
    async def fetch(self, _statement: Any) -> list[dict[str, Any]]:
        return [{"sequence": 1, "id": "event-1"}]


def _page(kilobytes: int) -> PageBody:
    # Random bytes: they do not compress, so a page holds its full size in the cache.
    noise = random.Random(kilobytes).randbytes(kilobytes * 1000 - 2)
    return PageBody(items=b"[" + noise + b"]", total=1)


def _search_page(seed: int) -> PageBody:
    """A search answer as the registry writes one: 20 hits of a few hundred bytes."""
    rng = random.Random(seed)
    hits = [
        {
            "type": "offering",
            "id": f"{rng.getrandbits(128):032x}",
            "name": " ".join(
                rng.choice(["zaak", "archief", "glasvezel", "burgerzaken"]) for _ in range(4)
            ),
            "facilityId": f"{rng.getrandbits(128):032x}",
            "kind": "service",
            "theme": "dienstverlening",
            "stage": "live",
            "score": rng.random(),
        }
        for _ in range(20)
    ]
    return PageBody(items=json.dumps(hits).encode(), total=60, extra=b',"facets":{"type":[]}')


async def test_the_cache_keeps_answers_within_its_byte_budget() -> None:
    """Bounded by what the answers hold, not by their number: large pages push out the
    least recently used ones, a page larger than the whole budget is answered but not
    kept, and /metrics tells ops what is held."""
    database: Any = _FixedFeed()
    budget = 3 * (10_050 + ENTRY_OVERHEAD)  # three pages and what compression adds
    cache = ReadCache(max_bytes=budget)
    computed: list[str] = []

    def compute(key: str, kilobytes: int) -> Any:
        async def page() -> PageBody:
            computed.append(key)
            return _page(kilobytes)

        return page

    for key in ("a", "b", "c"):
        await cache.get(database, key, compute(key, 10))
    assert 3 * (10_000 + ENTRY_OVERHEAD) <= cache.bytes_held <= budget
    await cache.get(database, "a", compute("a", 10))  # a hit: now the most recent
    await cache.get(database, "d", compute("d", 10))  # pushes out b, the least recent
    assert cache.bytes_held <= budget
    await cache.get(database, "a", compute("a", 10))
    await cache.get(database, "b", compute("b", 10))
    assert computed == ["a", "b", "c", "d", "b"]

    held = cache.bytes_held
    huge = await cache.get(database, "huge", compute("huge", 40))
    assert len(huge.items) == 40_000  # answered ...
    await cache.get(database, "huge", compute("huge", 40))
    assert computed[-2:] == ["huge", "huge"]  # ... but never kept
    assert cache.bytes_held == held  # and nothing was pushed out for it

    families = {f.name: f for f in ReadCacheCollector(cache).collect()}
    assert families["registry_read_cache_bytes"].samples[0].value == held


async def test_pages_are_kept_compressed_and_answered_byte_for_byte() -> None:
    """Answers are kept compressed, so the budget holds several times the answers their
    JSON would fill, and a reused answer is the computed one exactly."""
    database: Any = _FixedFeed()
    pages = [_search_page(n) for n in range(12)]
    raw = sum(len(p.items) + len(p.extra) + ENTRY_OVERHEAD for p in pages)
    cache = ReadCache(max_bytes=raw // 2)
    computed: list[int] = []

    def compute(n: int) -> Any:
        async def page() -> PageBody:
            computed.append(n)
            return pages[n]

        return page

    for n in range(12):
        await cache.get(database, n, compute(n))
    for n in range(12):
        assert await cache.get(database, n, compute(n)) == pages[n]
    assert computed == list(range(12))  # all twelve kept, in half their JSON's bytes
    assert cache.hits == 12


async def test_many_small_answers_are_bounded_by_their_overhead() -> None:
    """Empty pages are tiny, but each kept answer costs its key and bookkeeping too."""
    database: Any = _FixedFeed()
    cache = ReadCache(max_bytes=10 * (ENTRY_OVERHEAD + 100))
    for n in range(50):

        async def empty() -> PageBody:
            return PageBody(items=b"[]", total=0)

        await cache.get(database, n, empty)
    assert cache.bytes_held <= cache.max_bytes
    assert cache.hits == 0
    await cache.get(database, 49, empty)  # the newest are still there
    assert cache.hits == 1


async def test_an_answer_from_before_the_feed_started_again_does_not_block_new_ones() -> None:
    """The feed's positions are compared for equality only: after the feed was emptied
    and started again from 1, new answers are kept and reused again."""

    class Feed:
        latest = (40, "before")

        async def fetch(self, _statement: Any) -> list[dict[str, Any]]:
            return [{"sequence": self.latest[0], "id": self.latest[1]}]

    feed = Feed()
    cache = ReadCache(1 << 20)
    computed: list[tuple[int, str]] = []

    async def compute() -> tuple[int, str]:
        computed.append(feed.latest)
        return feed.latest

    database: Any = feed
    assert await cache.get(database, "key", compute) == (40, "before")
    feed.latest = (1, "after")
    assert await cache.get(database, "key", compute) == (1, "after")
    assert await cache.get(database, "key", compute) == (1, "after")
    assert computed == [(40, "before"), (1, "after")]
    assert (cache.hits, cache.misses) == (1, 2)


async def test_list_pages_are_reused_until_a_change_on_any_replica(
    client: httpx.AsyncClient,
    replica: httpx.AsyncClient,
    tokens: Any,
    make_org: Maker,
    make_facility: Maker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from registry.offerings import repository as offering_repository

    await make_org("supplier", kvkNumber=tokens.SUPPLIER_KVK)
    facility = await make_facility(slug="gt", name="Telefonie collectief", theme="telephony")
    await _offering(client, tokens, facility, "Vast")
    loads: list[Any] = []
    reader = offering_repository.READER
    original = reader.page

    async def counted(database: Any, params: Any, *filters: Any) -> Any:
        loads.append((filters, params.page))
        return await original(database, params, *filters)

    monkeypatch.setattr(reader, "page", counted)

    async def names(on: httpx.AsyncClient, url: str) -> list[str]:
        r = await on.get(url, headers=tokens.reader())
        assert r.status_code == 200, r.text
        return [item["name"] for item in r.json()["items"]]

    by_facility = f"/v1/offerings?facilityId={facility['id']}"
    assert await names(client, by_facility) == ["Vast"]
    assert await names(client, by_facility) == ["Vast"]
    assert await names(client, "/v1/offerings?pageSize=1") == ["Vast"]
    assert len(loads) == 2  # the repeated page was reused; another page is its own
    # Written through another replica: this app's next page has it.
    await _offering(replica, tokens, facility, "Mobiel")
    assert await names(client, by_facility) == ["Mobiel", "Vast"]
    r = await client.get("/v1/offerings?pageSize=1", headers=tokens.reader())
    assert r.json()["total"] == 2
    assert r.json()["_links"]["next"]["href"] == "/v1/offerings?page=2&pageSize=1"
    assert len(loads) == 4


class _SlowFeed:
    """A feed whose position reads take a while; each read sees the position at the moment
    it is sent and counts itself."""

    def __init__(self) -> None:
        self.position = 1
        self.reads = 0
        self.fail_next = False

    async def fetch(self, _statement: Any) -> list[dict[str, Any]]:
        self.reads += 1
        seen = self.position
        failing, self.fail_next = self.fail_next, False
        await asyncio.sleep(0.02)
        if failing:
            raise ConnectionError("database went away")
        return [{"sequence": seen, "id": f"event-{seen}"}]


async def test_concurrent_position_reads_are_shared_and_never_older_than_the_request() -> None:
    feed = _SlowFeed()
    database: Any = feed
    cache = ReadCache(1 << 20)
    first = asyncio.ensure_future(cache.version(database))
    await asyncio.sleep(0.005)  # the first read is on its way
    feed.position = 2  # a change commits while it is
    later = [asyncio.ensure_future(cache.version(database)) for _ in range(20)]
    assert await first == (1, "event-1")
    # Everyone who asked after the change got a read sent after it: one read for all.
    assert set(await asyncio.gather(*later)) == {(2, "event-2")}
    assert feed.reads == 2


async def test_a_failed_position_read_fails_its_waiters_only() -> None:
    feed = _SlowFeed()
    database: Any = feed
    cache = ReadCache(1 << 20)
    feed.fail_next = True
    waiting = [asyncio.ensure_future(cache.version(database)) for _ in range(3)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await cache.version(database) == (1, "event-1")
    assert feed.reads == 2
