"""Small response helpers used by every router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from servicekit.http import require_if_match


def json_response(
    model: BaseModel,
    status_code: int = 200,
    *,
    etag: str | None = None,
    location: str | None = None,
) -> JSONResponse:
    headers = {}
    if etag:
        headers["ETag"] = etag
    if location:
        headers["Location"] = location
    return JSONResponse(
        model.model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=status_code,
        headers=headers,
    )


def if_match_required(request: Request) -> Callable[[str], None]:
    return lambda etag: require_if_match(request, etag)


def if_match_optional(request: Request) -> Callable[[str], None]:
    """State transitions are POSTs: If-Match is honoured when sent, not demanded."""

    def check(etag: str) -> None:
        if request.headers.get("if-match"):
            require_if_match(request, etag)

    return check


def responses(*codes: int, **extra: Any) -> dict[int | str, dict[str, Any]]:
    """Document the error codes an operation can answer (problem+json added by servicekit)."""
    descriptions = {
        400: "Invalid input",
        401: "Missing or invalid bearer token",
        403: "Not allowed for this organisation, scope or login level",
        404: "Not found",
        406: "The Accept header cannot be met",
        409: "Conflict with the resource's current state",
        412: "If-Match does not match the current ETag",
        422: "Idempotency-Key reused for another request",
        428: "If-Match is required",
        503: "The registry is unavailable; retry after Retry-After seconds",
    }
    out: dict[int | str, dict[str, Any]] = {c: {"description": descriptions[c]} for c in codes}
    out.update(extra)
    return out
