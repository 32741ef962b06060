"""Helpers every registry router and service uses: responses, ETags, idempotent POSTs."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from fastapi import Request, Response
from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)
from sqlalchemy import Select, Table, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError

from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict, NotFound
from servicekit.http import make_etag
from servicekit.idempotency import IdempotencyStore
from servicekit.pagination import PageParams, make_page
from servicekit.schemas import ApiOutModel

from .auth import idempotency_owner
from .db import idempotency_keys, row_counts
from .readcache import ReadCache

OutModel = TypeVar("OutModel", bound=ApiOutModel)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# An absolute http(s) URL as a client can send it: a DNS name or IPv4 host, an optional
# port, then printable ASCII only (no whitespace, no control characters; anything else
# percent-encoded). Declared as the schema's pattern and checked again by ``url_syntax``,
# so that what the document allows the service accepts, and a URL stored here is one the
# HTTP client can request.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
URL_PATTERN = rf"^https?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?(?:[/?#][!-~]*)?$"
_URL = re.compile(URL_PATTERN)


def url_syntax(value: str) -> str:
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("whitespace and control characters are not allowed in a URL")
    if not _URL.match(value):
        if "@" in value.partition("://")[2].split("/", 1)[0]:
            raise ValueError("credentials are not allowed in a URL")
        raise ValueError("not an absolute http or https URL with a host name")
    return value


Url = Annotated[
    str,
    StringConstraints(max_length=500),
    AfterValidator(url_syntax),
    WithJsonSchema({"type": "string", "format": "uri", "maxLength": 500, "pattern": URL_PATTERN}),
]

# ``date | None`` would be documented as anyOf without a top-level format, which the ADR
# linter rejects; document it as one nullable date string instead.
OptionalDate = Annotated[
    date | None, WithJsonSchema({"type": ["string", "null"], "format": "date"})
]

# Amounts in euro: exact decimals inside, plain JSON numbers outside.
Euro = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 999999999999.99}),
]
OptionalEuro = Annotated[Euro | None, WithJsonSchema({"type": ["number", "null"], "minimum": 0})]

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "Conflict with the current state (duplicate, in use, illegal move)"},
    412: {"description": "If-Match does not match the current ETag"},
    422: {"description": "Idempotency-Key reused for a different request"},
    428: {"description": "If-Match is required"},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: PROBLEM_RESPONSES[code] for code in codes}


def etag_of(entity_id: uuid.UUID, revision: int) -> str:
    return make_etag(entity_id, revision)


def json_response(
    body: ApiOutModel,
    *,
    status_code: int = 200,
    etag: str | None = None,
    location: str | None = None,
) -> Response:
    headers: dict[str, str] = {}
    if etag:
        headers["ETag"] = etag
    if location:
        headers["Location"] = location
    return Response(
        body.model_dump_json(by_alias=True),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


async def idempotent(
    request: Request, principal: Principal, handler: Callable[[], Awaitable[Response]]
) -> Response:
    """Run a POST at most once per (caller, Idempotency-Key)."""
    store = IdempotencyStore(idempotency_keys, request.app.state.database.sessionmaker)
    return await store.run(request, idempotency_owner(principal), handler)


@dataclass(frozen=True)
class PageBody:
    """A page's items, and any members beside the page's own, already in JSON: what the
    read cache keeps (a few kilobytes, where the model objects took ten times that)."""

    items: bytes
    total: int
    extra: bytes = b""  # further members, each as ``,"name":value``


def page_body(items: Sequence[ApiOutModel], total: int, **extra: ApiOutModel) -> PageBody:
    return PageBody(
        items=_list_adapter(type(items[0]) if items else ApiOutModel).dump_json(
            list(items), by_alias=True
        ),
        total=total,
        extra=b"".join(
            b',"' + name.encode() + b'":' + value.model_dump_json(by_alias=True).encode()
            for name, value in extra.items()
        ),
    )


@lru_cache(maxsize=64)
def _list_adapter(model: type[ApiOutModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def page_body_response(request: Request, body: PageBody, params: PageParams) -> Response:
    """The page as JSON: the stored items and extra members around the page's own total,
    page number, size and links (which follow the request's URL)."""
    own = make_page(request, [], body.total, params)
    del own["items"]
    members = json.dumps(own, separators=(",", ":")).encode()  # {"total":…,"_links":…}
    content = b'{"items":' + body.items + b"," + members[1:-1] + body.extra + b"}"
    return Response(content, media_type="application/json")


async def cached_page(
    request: Request,
    database: Database,
    cache: ReadCache,
    key: Hashable,
    params: PageParams,
    load: Callable[[], Awaitable[tuple[Sequence[ApiOutModel], int]]],
) -> Response:
    """A collection page from ``load`` (its items and total), reused while the registry is
    unchanged (:mod:`registry.readcache`); ``key`` names the page: what is listed, the
    filters and the page bounds."""

    async def compute() -> PageBody:
        items, total = await load()
        return page_body(items, total)

    return page_body_response(request, await cache.get(database, key, compute), params)


def page_response(
    request: Request, items: Sequence[ApiOutModel], total: int, params: PageParams
) -> Response:
    """A collection page as a ready response (the schema is already applied, so FastAPI's
    second validation of the returned value is skipped on these hot paths)."""
    return page_body_response(request, page_body(items, total), params)


def page_statement(
    query: Select[Any], order_by: Sequence[Any], *, whole_table: str | None = None
) -> Select[Any]:
    """``query`` (the filtered columns) as one page in ``order_by`` order, with the exact
    number of its rows as ``total_count`` on every row: one statement, one snapshot, one
    round trip. The page bounds are the bind parameters ``offset`` and ``limit``.

    ``whole_table``: the query is the unfiltered table of that name, whose total comes
    from ``row_counts`` (kept exact by triggers, migration 0007) instead of counting
    every row; without a counter row it is counted."""
    total: Any = select(func.count()).select_from(query.subquery()).scalar_subquery()
    if whole_table is not None:
        kept = select(row_counts.c.n).where(row_counts.c.name == whole_table).scalar_subquery()
        total = func.coalesce(kept, total)
    return (
        query.add_columns(total.label("total_count"))
        .order_by(*order_by)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


async def read_page(
    database: Database, statement: Select[Any], values: dict[str, Any], params: PageParams
) -> tuple[Sequence[Any], int]:
    """Run a :func:`page_statement`: the page's rows and the total."""
    bounds = {"offset": params.offset, "limit": params.page_size}
    rows = await database.fetch(statement, {**values, **bounds})
    if rows:
        return rows, int(rows[0]["total_count"])
    if params.offset == 0:
        return [], 0
    # Past the end: the page is empty, but the total is still wanted for the links.
    first = await database.fetch(statement, {**values, "offset": 0, "limit": 1})
    return [], int(first[0]["total_count"]) if first else 0


@lru_cache(maxsize=32)
def _by_id(table: Table) -> Select[Any]:
    return select(*table.c).where(table.c.id == bindparam("id"))


async def read_by_id(
    database: Database, table: Table, entity_id: uuid.UUID, out: type[OutModel], what: str
) -> tuple[OutModel, str]:
    """One row of ``table`` as its API schema, with its ETag; 404 when there is none."""
    rows = await database.fetch(_by_id(table), {"id": entity_id})
    if not rows:
        raise NotFound(f"No {what} with id {entity_id}.")
    row = rows[0]
    return out.model_validate(dict(row)), etag_of(row["id"], row["revision"])


@lru_cache(maxsize=256)
def list_statement(
    table: Table,
    order_by: tuple[str, ...],
    equal: tuple[str, ...],
    contains: tuple[str, ...],
    counted_table: bool,
) -> Select[Any]:
    """A :func:`page_statement` over all columns of ``table``: each column named in
    ``equal`` equals the bind parameter of the same name, and, with ``contains``, one of
    those columns (lower-cased) is LIKE the bind parameter ``pattern``. Built once per
    combination of filters, so it is compiled and prepared once."""
    query = select(*table.c)
    for name in equal:
        query = query.where(table.c[name] == bindparam(name))
    if contains:
        pattern: Any = bindparam("pattern")
        query = query.where(
            or_(*(func.lower(table.c[name]).like(pattern, escape="/") for name in contains))
        )
    unfiltered = not equal and not contains
    return page_statement(
        query,
        [table.c[name] for name in order_by],
        whole_table=table.name if unfiltered and counted_table else None,
    )


async def read_list(
    database: Database,
    table: Table,
    params: PageParams,
    *,
    order_by: tuple[str, ...],
    equal: dict[str, Any],
    text: str | None = None,
    text_columns: tuple[str, ...] = (),
    counted_table: bool = False,
) -> tuple[Sequence[Any], int]:
    """One page of ``table`` with the exact total: rows whose columns equal the given
    values (``None``: no condition) and, when ``text`` is given, contain it in one of
    ``text_columns`` (case-insensitive, LIKE wildcards literal). ``counted_table``: the
    table's unfiltered total comes from ``row_counts``."""
    values = {name: value for name, value in equal.items() if value is not None}
    present = tuple(values)
    contains = text_columns if text else ()
    if text:
        values["pattern"] = like_pattern(text.lower())
    statement = list_statement(table, order_by, present, contains, counted_table)
    return await read_page(database, statement, values, params)


def like_pattern(needle: str) -> str:
    """A LIKE pattern matching ``needle`` anywhere, its wildcards escaped with ``/``."""
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def invalid(name: str, reason: str, detail: str | None = None) -> BadRequest:
    return BadRequest(
        detail or f"Invalid value for {name}: {reason}.",
        invalid_params=[{"name": name, "reason": reason}],
    )


def unique_conflict(exc: IntegrityError, detail: str) -> Conflict:
    """A unique constraint lost a race the service's own check could not see."""
    return Conflict(detail, slug="duplicate")
