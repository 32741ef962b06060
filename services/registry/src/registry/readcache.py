"""Answers of the most requested reads (list pages, search, radar) reused while the
registry is unchanged.

Every change to the registry's data appends an event to the change feed's outbox in the
change's own transaction, and the feed's writers commit in sequence order (an advisory
lock held until commit on PostgreSQL, BEGIN IMMEDIATE on SQLite; see changes/service.py).
So the highest committed sequence number names the committed state of the data: an
answer computed at that state is served again only while the number is the same. Each
request reads the number afresh (one index lookup, sent after the request came;
requests that come together share it), so a change committed by any replica is seen by
the next request on every replica, exactly as without the cache.

Subscriptions (webhooks) change without feed events; no cached read depends on them.
Changes made outside the API (SQL by hand, bulk loads) write no events either: an answer
older than ``max_age_seconds`` is served once more while it is recomputed in the
background, so those show up within that time plus one computation.

An answer is computed after its version was read, so it may already include a later
change; it is then stored under the older number and simply recomputed once more.

The cache is bounded by the bytes its answers hold, not by their number: a page of 100
items is ten times a page of 10, and a client paging through everything with large pages
must not grow the process past its memory limit. Pages are kept compressed, which holds
four to six times as many answers in the same bytes for a few microseconds per reuse.
"""

from __future__ import annotations

import asyncio
import sys
import time
import zlib
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

from cachetools import LRUCache
from fastapi import Depends, Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import select

from servicekit.db import Database
from servicekit.responses import PageBody

from .db import event_outbox

T = TypeVar("T")

# The newest event: its sequence number and, as sequence numbers can start again after the
# table was emptied (SQLite reuses them; tests restart them), its unique id.
LATEST_CHANGE = (
    select(event_outbox.c.sequence, event_outbox.c.id)
    .order_by(event_outbox.c.sequence.desc())
    .limit(1)
)
Version = tuple[int, str]
Entry = tuple[Version, float, Any]

# What an entry holds besides its answer (its key, version and time, the LRU's own
# bookkeeping): counted too, so that the budget also bounds how many tiny answers are kept.
ENTRY_OVERHEAD = 512


@dataclass(frozen=True, slots=True)
class PackedPage:
    """A page's JSON as kept: compressed (JSON of similar items shrinks four- to sixfold,
    so the same bytes keep that many more answers), unpacked on every reuse."""

    packed: bytes  # the items' JSON then the extra members', compressed together
    items_length: int
    total: int

    @classmethod
    def of(cls, body: PageBody) -> PackedPage:
        return cls(zlib.compress(body.items + body.extra, 1), len(body.items), body.total)

    def page(self) -> PageBody:
        json = zlib.decompress(self.packed)
        cut = self.items_length
        return PageBody(items=json[:cut], total=self.total, extra=json[cut:])


def answer_size(answer: Any) -> int:
    """The bytes an answer holds as kept: a page's compressed JSON, or what Python reports
    for anything else."""
    if isinstance(answer, PackedPage):
        return len(answer.packed)
    return sys.getsizeof(answer)


def entry_size(entry: Entry) -> int:
    return ENTRY_OVERHEAD + answer_size(entry[2])


class ReadCache:
    """An LRU of answers holding at most ``max_bytes`` (:func:`entry_size`; 0 turns the
    cache off), each tagged with the feed position it was computed at. An answer larger
    than the whole budget is answered but not kept.

    Concurrent requests for the same key at the same position share one computation
    (a popular search after a change is computed once, not once per waiting client).
    ``compute`` must use its own database session, not the request's: it may outlive
    the request that started it."""

    def __init__(self, max_bytes: int, max_age_seconds: float = 60.0) -> None:
        self.max_bytes = max_bytes
        # Changes made outside the API (SQL by hand, bulk loads) write no events: they
        # are seen within this time (plus one computation).
        self.max_age_seconds = max_age_seconds
        self._answers: LRUCache[Hashable, Entry] = LRUCache(max(1, max_bytes), getsizeof=entry_size)
        self._computing: dict[tuple[Hashable, Version], asyncio.Future[Any]] = {}
        self._refreshing = asyncio.Semaphore(1)
        # The feed-position read callers are waiting for, not sent yet; the task sending them.
        self._next_version: asyncio.Future[Version] | None = None
        self._version_reader: asyncio.Future[None] | None = None
        self.hits = 0
        self.misses = 0

    async def version(self, database: Database) -> Version:
        """The newest committed feed position, from a read sent after this call began:
        concurrent callers share one read (those that come while a read is on its way
        wait for the next one, so none gets a position from before it asked)."""
        loop = asyncio.get_running_loop()
        reader = self._version_reader
        if reader is None or reader.done() or reader.get_loop() is not loop:
            self._next_version = loop.create_future()
            self._version_reader = loop.create_task(self._read_versions(database))
        elif self._next_version is None:
            self._next_version = loop.create_future()
        return await asyncio.shield(self._next_version)

    async def _read_versions(self, database: Database) -> None:
        answer: asyncio.Future[Version] | None = None
        try:
            while self._next_version is not None:
                answer, self._next_version = self._next_version, None
                answer.add_done_callback(_retrieve)
                try:
                    rows = await database.fetch(LATEST_CHANGE)
                except Exception as exc:
                    answer.set_exception(exc)
                    continue
                latest = (int(rows[0]["sequence"]), str(rows[0]["id"])) if rows else (0, "")
                answer.set_result(latest)
        finally:
            if answer is not None and not answer.done():
                answer.cancel()  # this task was cancelled (shutdown): none may wait forever

    async def get(
        self, database: Database, key: Hashable, compute: Callable[[], Awaitable[T]]
    ) -> T:
        if self.max_bytes == 0:  # turned off
            self.misses += 1
            return await compute()
        version = await self.version(database)
        stored = self._answers.get(key)
        if stored is not None and stored[0] == version:
            self.hits += 1
            if time.monotonic() - stored[1] >= self.max_age_seconds:
                # Old enough that a change outside the API could be missing: answer as
                # stored and recompute in the background (stale-while-revalidate), one
                # such refresh at a time, so that answers computed together do not all
                # expire onto the database at once, competing with the requests.
                self._start(key, version, compute, background=True)
            kept = stored[2]
            return cast(T, kept.page() if isinstance(kept, PackedPage) else kept)
        self.misses += 1
        result: T = await asyncio.shield(self._start(key, version, compute))
        return result

    def _start(
        self,
        key: Hashable,
        version: Version,
        compute: Callable[[], Awaitable[T]],
        background: bool = False,
    ) -> asyncio.Future[Any]:
        task = self._computing.get((key, version))
        if task is None:
            # A task of its own: a client that gives up does not cancel the answer the
            # others wait for.
            task = asyncio.ensure_future(self._compute(key, version, compute, background))
            task.add_done_callback(_retrieve)
            self._computing[(key, version)] = task
        return task

    async def _compute(
        self,
        key: Hashable,
        version: Version,
        compute: Callable[[], Awaitable[T]],
        background: bool,
    ) -> T:
        try:
            if background:
                async with self._refreshing:
                    value = await compute()
            else:
                value = await compute()
        finally:
            self._computing.pop((key, version), None)
        # Errors (unknown facility, bad offering) propagate to every waiter, never stored.
        self._store(key, version, value)
        return value

    def _store(self, key: Hashable, version: Version, value: Any) -> None:
        # The latest computation to finish is kept, whatever its position: positions are
        # compared for equality only (the feed may start again from 1 when emptied; an
        # answer from before then must not block every later one). Two computations at
        # different positions finishing out of order cost one recomputation at most.
        kept = PackedPage.of(value) if isinstance(value, PageBody) else value
        entry = (version, time.monotonic(), kept)
        if entry_size(entry) > self._answers.maxsize:
            self._answers.pop(key, None)  # too large to keep: the older answer is outdated
            return
        self._answers[key] = entry

    @property
    def bytes_held(self) -> int:
        """What the kept answers hold (:func:`entry_size`), at most ``max_bytes``."""
        return int(self._answers.currsize)


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark an error as seen even when every waiter had gone (no asyncio warning).
    if not task.cancelled():
        task.exception()


class ReadCacheCollector:
    """``registry_read_cache_requests_total{result="hit"|"miss"}`` on /metrics: how often
    list, search and radar answers were reused, and ``registry_read_cache_bytes``: what
    they hold (ops size ``max_bytes`` by the two)."""

    def __init__(self, cache: ReadCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "registry_read_cache_requests",
            "List, search and radar requests answered from the read cache (hit) or computed (miss)",
            labels=["result"],
        )
        family.add_metric(["hit"], self.cache.hits)
        family.add_metric(["miss"], self.cache.misses)
        yield family
        yield GaugeMetricFamily(
            "registry_read_cache_bytes",
            "Bytes held by the read cache's answers (at most REGISTRY_READ_CACHE_BYTES)",
            value=self.cache.bytes_held,
        )


async def get_read_cache(request: Request) -> ReadCache:
    return cast(ReadCache, request.app.state.read_cache)


ReadCacheDep = Annotated[ReadCache, Depends(get_read_cache)]
