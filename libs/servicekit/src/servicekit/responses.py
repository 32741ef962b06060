"""The one JSON response of every service, and the documentation of its error answers.

Nulls are kept: every field a schema declares is in the answer, ``null`` when it has no
value, so the OpenAPI document describes each answer exactly and clients never tell
"missing" from "null". The model is serialised once, by pydantic-core, straight to bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, TypeAdapter

from .pagination import PageParams, make_page

ERROR_DESCRIPTIONS = {
    400: "Invalid input",
    401: "Missing or invalid bearer token",
    403: "Not allowed for this organisation, scope or login level",
    404: "Not found",
    406: "The Accept header cannot be met",
    409: "Conflict with the current state (duplicate, in use, illegal move)",
    412: "If-Match does not match the current ETag",
    413: "Request body too large",
    415: "Unsupported Content-Type",
    422: "Idempotency-Key reused for a different request",
    428: "If-Match is required",
    503: "A service this one depends on is unavailable; retry after Retry-After seconds",
}


def json_response(
    body: BaseModel,
    status_code: int = 200,
    *,
    etag: str | None = None,
    location: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` as JSON (camelCase aliases, nulls kept) with optional ETag and Location."""
    all_headers = dict(headers or {})
    if etag:
        all_headers["ETag"] = etag
    if location:
        all_headers["Location"] = location
    return Response(
        body.model_dump_json(by_alias=True),
        status_code=status_code,
        headers=all_headers,
        media_type="application/json",
    )


def tagged_response(answer: tuple[BaseModel, str]) -> Response:
    """A resource read or changed by a service function, which gives it with its ETag."""
    body, etag = answer
    return json_response(body, etag=etag)


def no_content() -> Response:
    """204: done, nothing to say (a delete, a withdrawal)."""
    return Response(status_code=204)


def error_responses(*codes: int, **extra: Any) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error codes an operation can answer (the problem+json
    body is added by servicekit's OpenAPI document); ``extra``: further entries as given."""
    out: dict[int | str, dict[str, Any]] = {
        code: {"description": ERROR_DESCRIPTIONS[code]} for code in codes
    }
    out.update(extra)
    return out


@dataclass(frozen=True)
class PageBody:
    """A page's items, and any members beside the page's own, already in JSON: what the
    read cache keeps (a few kilobytes, where the model objects took ten times that)."""

    items: bytes
    total: int
    extra: bytes = b""  # further members, each as ``,"name":value``


def page_body(items: Sequence[BaseModel], total: int, **extra: BaseModel) -> PageBody:
    return PageBody(
        items=_list_adapter(type(items[0]) if items else BaseModel).dump_json(
            list(items), by_alias=True
        ),
        total=total,
        extra=b"".join(
            b',"' + name.encode() + b'":' + value.model_dump_json(by_alias=True).encode()
            for name, value in extra.items()
        ),
    )


@lru_cache(maxsize=64)
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def page_body_response(request: Request, body: PageBody, params: PageParams) -> Response:
    """The page as JSON: the stored items and extra members around the page's own total,
    page number, size and links (which follow the request's URL)."""
    own = make_page(request, [], body.total, params)
    del own["items"]
    members = json.dumps(own, separators=(",", ":")).encode()  # {"total":…,"_links":…}
    content = b'{"items":' + body.items + b"," + members[1:-1] + body.extra + b"}"
    return Response(content, media_type="application/json")


def page_response(
    request: Request, items: Sequence[BaseModel], total: int, params: PageParams
) -> Response:
    """A collection page as a ready response (the schema is already applied, so FastAPI's
    second validation of the returned value is skipped on these hot paths)."""
    return page_body_response(request, page_body(items, total), params)


def listed_response(request: Request, items: Sequence[BaseModel], params: PageParams) -> Response:
    """One page of a list computed whole (short lists: exposures, alerts, analyses)."""
    return page_response(request, params.window(items), len(items), params)
