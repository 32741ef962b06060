"""What every registry domain uses: field types, pages of JSON kept by the read cache."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints, WithJsonSchema

from servicekit.auth import ANONYMOUS_ALLOWED, Principal
from servicekit.db import Database
from servicekit.errors import BadRequest, Conflict
from servicekit.pagination import Page, PageDep, PageParams
from servicekit.repository import TableReader
from servicekit.responses import PageBody, page_body, page_body_response
from servicekit.routes import allows_anonymous, endpoint
from servicekit.schemas import FILLED_TEXT, LINE, TEXT, ApiOutModel, IsoDate, JsonNumber

from .db import row_counts
from .readcache import ReadCache

# The path parameters that name one resource, for every domain's routes.
FacilityId = Annotated[uuid.UUID, Path(alias="facilityId", description="Facility id")]
OrganisationId = Annotated[uuid.UUID, Path(alias="organisationId")]
IntegrationId = Annotated[uuid.UUID, Path(alias="integrationId", description="Integration id")]
OfferingId = Annotated[uuid.UUID, Path(alias="offeringId", description="Offering id")]
VersionId = Annotated[uuid.UUID, Path(alias="versionId", description="Version id")]
UsageId = Annotated[uuid.UUID, Path(alias="usageId", description="Usage id")]
SubscriptionId = Annotated[uuid.UUID, Path(alias="subscriptionId", description="Subscription id")]
VulnerabilityId = Annotated[
    uuid.UUID, Path(alias="vulnerabilityId", description="Vulnerability id")
]
MergerId = Annotated[uuid.UUID, Path(alias="mergerId")]
ParticipantId = Annotated[uuid.UUID, Path(alias="participantId")]
PledgeId = Annotated[uuid.UUID, Path(alias="pledgeId")]
TransitionId = Annotated[uuid.UUID, Path(alias="transitionId")]
# An upload's ``dryRun``: check the file, store nothing.
CheckOnly = Annotated[bool, Query(alias="dryRun", description="Only check the file; store nothing")]

# Trimmed before the length check; the patterns (servicekit.schemas) refuse control
# characters and blank values, and say so in the documents.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=LINE)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=LINE)
]
LongText = Annotated[str, StringConstraints(max_length=10_000, pattern=TEXT)]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=FILLED_TEXT),
]
# An absolute http(s) URL as a client can send it: a DNS name or IPv4 host, an optional
# port, then a path, query and fragment of RFC 3986's characters only (anything else,
# such as whitespace, control characters, < > " { } | \\ ^ `, percent-encoded; at most one
# #). Declared as the schema's pattern and checked again by ``url_syntax``, so that what
# the document allows the service accepts, what it accepts is a URI (``format: uri``),
# and a URL stored here is one the HTTP client can request.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_ORIGIN = rf"https?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?"
_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
URL_PATTERN = rf"^{_ORIGIN}(?:/(?:{_PCHAR}|/)*)?(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?$"
_URL = re.compile(URL_PATTERN)
_URL_ORIGIN = re.compile(rf"{_ORIGIN}(?:[/?#]|$)")


def url_syntax(value: str) -> str:
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("whitespace and control characters are not allowed in a URL")
    if not _URL.match(value):
        if "@" in value.partition("://")[2].split("/", 1)[0]:
            raise ValueError("credentials are not allowed in a URL")
        if _URL_ORIGIN.match(value):
            raise ValueError(
                'characters outside RFC 3986 (such as < > " { } | ^ `, a second # or a % '
                "without two hex digits) must be percent-encoded"
            )
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
    IsoDate | None, WithJsonSchema({"type": ["string", "null"], "format": "date"})
]

# Amounts in euro: exact decimals inside, plain JSON numbers outside.
Euro = Annotated[
    Decimal,
    JsonNumber,
    Field(ge=0, max_digits=14, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 999999999999.99}),
]
OptionalEuro = Annotated[
    Euro | None,
    WithJsonSchema({"type": ["number", "null"], "minimum": 0, "maximum": 999999999999.99}),
]


@dataclass(frozen=True)
class CachedPages:
    """The collection pages of one request, reused while the registry is unchanged
    (:mod:`registry.readcache`)."""

    request: Request
    database: Database
    cache: ReadCache

    async def answer(
        self,
        key: tuple[Hashable, ...],
        params: PageParams,
        compute: Callable[[], Awaitable[PageBody]],
    ) -> Response:
        """The page ``compute`` makes, reused under ``key`` (what is listed and how it is
        filtered) and the page's bounds."""
        full_key = (*key, params.offset, params.page_size)
        body = await self.cache.get(self.database, full_key, compute)
        return page_body_response(self.request, body, params)

    async def items(
        self,
        key: tuple[Hashable, ...],
        params: PageParams,
        load: Callable[[Database], Awaitable[tuple[Sequence[ApiOutModel], int]]],
    ) -> Response:
        """A page of the items and total that ``load`` reads from the database."""

        async def compute() -> PageBody:
            items, total = await load(self.database)
            return page_body(items, total)

        return await self.answer(key, params, compute)


async def cached_pages(request: Request) -> CachedPages:
    # The app's database and read cache straight from its state, as get_database and
    # get_read_cache give them: two dependencies fewer for FastAPI to solve per request.
    state = request.app.state
    return CachedPages(request, state.database, state.read_cache)


CachedPagesDep = Annotated[CachedPages, Depends(cached_pages)]


def cached_page(
    router: APIRouter,
    path: str,
    model: type[ApiOutModel],
    load: Callable[..., Awaitable[tuple[Sequence[ApiOutModel], int]]],
    operation_id: str,
    summary: str,
    *,
    caller: Any,
    filters: Any,
    view: Any = None,
    description: str | None = None,
) -> None:
    """GET a page of the collection at ``path`` kept by the read cache:
    ``load(database, filters, params)``. ``filters``: a dependency reading the list's query
    parameters into a hashable filter (part of the cache's key). ``view``: a dependency
    telling what this caller may see (a :class:`~registry.contracts.ContractView`), given to
    ``load`` after ``params``; pages shown differently are kept apart by its ``key``."""

    async def run(
        pages: CachedPages,
        caller: Principal | None,
        params: PageParams,
        filters: Hashable,
        view: Any = None,
    ) -> Response:
        seen = () if view is None else (view,)
        key = (operation_id, filters) if view is None else (operation_id, filters, view.key)
        return await pages.items(
            key, params, lambda database: load(database, filters, params, *seen)
        )

    viewed = {} if view is None else {"view": view}
    router.add_api_route(
        path,
        endpoint(
            operation_id,
            run,
            pages=CachedPagesDep,
            caller=caller,
            **viewed,
            filters=filters,
            params=PageDep,
        ),
        methods=["GET"],
        operation_id=operation_id,
        summary=summary,
        description=description,
        # Page of a model known at run time, which a type checker cannot follow.
        response_model=Page[model],  # type: ignore[valid-type]
        openapi_extra=ANONYMOUS_ALLOWED if allows_anonymous(caller) else None,
    )


def table_reader(
    table: Any,
    label: str,
    *,
    counted: bool = False,
    order_by: tuple[str, ...] = ("id",),
    text_columns: tuple[str, ...] = (),
) -> TableReader:
    """A :class:`TableReader` of a registry table; ``counted``: its unfiltered total comes
    from ``row_counts`` (kept exact by triggers, migration 0007)."""
    counter = row_counts if counted else None
    return TableReader(table, label, counter, order_by=order_by, text_columns=text_columns)


def invalid(name: str, reason: str, detail: str | None = None) -> BadRequest:
    return BadRequest(
        detail or f"Invalid value for {name}: {reason}.",
        invalid_params=[{"name": name, "reason": reason}],
    )


def duplicate(detail: str, field: str, reason: str, existing: uuid.UUID | None = None) -> Conflict:
    """The 409 for a second one of something unique: the field that clashes (in
    ``invalidParams``, so a form shows the message there) and the one already there."""
    extra: dict[str, Any] = {"invalidParams": [{"name": field, "reason": reason}]}
    if existing is not None:
        extra["existingId"] = str(existing)
    return Conflict(detail, slug="duplicate", extra=extra)
