"""HTTP helpers for writes: ETag / If-Match, content negotiation, Location."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute

from .errors import BadRequest, NotAcceptable, PreconditionFailed, PreconditionRequired


def make_etag(*parts: object) -> str:
    """A strong ETag from the resource's identity and version."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


class IfMatch:
    """The request's ``If-Match`` header, checked against a resource's current ETag by
    calling it: 412 when stale, 428 when missing (unless optional, as on DELETE and on
    state-changing POSTs, where it is honoured when sent)."""

    __slots__ = ("header", "required")

    def __init__(self, header: str | None, required: bool = True) -> None:
        self.header = header
        self.required = required

    def __call__(self, current_etag: str) -> None:
        if not self.header:
            if not self.required:
                return
            raise PreconditionRequired(
                "This change needs an If-Match header with the ETag from a recent read."
            )
        candidates = [c.strip() for c in self.header.split(",")]
        if "*" in candidates:
            return
        # Weak comparison is not allowed for If-Match (RFC 9110 13.1.1); strip W/ only to
        # tolerate proxies that weaken ETags, then compare the opaque tags exactly.
        normalized = {c[2:] if c.startswith("W/") else c for c in candidates}
        if current_etag not in normalized:
            raise PreconditionFailed(
                "The resource changed since you read it; read it again and retry.",
                extra={"currentETag": current_etag},
            )


async def if_match(request: Request) -> IfMatch:
    """FastAPI dependency: the request's If-Match, required."""
    return IfMatch(request.headers.get("if-match"))


async def if_match_optional(request: Request) -> IfMatch:
    """FastAPI dependency: the request's If-Match, checked only when sent."""
    return IfMatch(request.headers.get("if-match"), required=False)


IfMatchDep = Annotated[IfMatch, Depends(if_match)]
OptionalIfMatchDep = Annotated[IfMatch, Depends(if_match_optional)]


def require_if_match(request: Request, current_etag: str) -> None:
    """412 when the client's ``If-Match`` is stale, 428 when it sent none."""
    IfMatch(request.headers.get("if-match"))(current_etag)


def negotiate(request: Request, offered: list[str]) -> str:
    """Pick the first offered media type the ``Accept`` header allows, else 406."""
    accept = request.headers.get("accept")
    if not accept:
        return offered[0]
    ranges = []
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0 and media:
            ranges.append(media.lower())
    for media_type in offered:
        main = media_type.partition("/")[0]
        for wanted in ranges:
            w_main, _, w_sub = wanted.partition("/")
            if wanted in ("*/*", media_type) or (w_main == main and w_sub == "*"):
                return media_type
            # application/problem+json and friends accept plain JSON answers' errors
            if media_type == "application/json" and w_sub.endswith("+json") and w_main == main:
                return media_type
    raise NotAcceptable(f"This resource is available as: {', '.join(offered)}.")


async def accept_json(request: Request) -> None:
    """JSON resources answer 406 to an Accept they cannot meet."""
    negotiate(request, ["application/json"])


def declared_query_parameters(app: Any) -> dict[str, frozenset[str]]:
    """operationId → the query parameters the app's OpenAPI document lists for it (read
    once per app, on the first request that needs it)."""
    declared: dict[str, frozenset[str]] | None = getattr(app.state, "query_parameters", None)
    if declared is None:
        declared = {
            operation["operationId"]: frozenset(
                p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
            )
            for item in app.openapi().get("paths", {}).values()
            for operation in item.values()
            if isinstance(operation, dict) and "operationId" in operation
        }
        app.state.query_parameters = declared
    return declared


class ApiRoute(APIRoute):
    """A documented operation: a query parameter its OpenAPI operation does not list is a
    400 problem naming it, as an unknown member of a body is, instead of being ignored (a
    misspelt filter would answer the unfiltered list as if it had been applied)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        operation_id = self.operation_id or self.unique_id

        async def checked(request: Request) -> Response:
            if request.scope["query_string"]:
                known = declared_query_parameters(request.app).get(operation_id)
                unknown = [] if known is None else sorted(set(request.query_params) - known)
                if unknown:
                    raise BadRequest(
                        f"Unknown query parameter: {', '.join(unknown)}.",
                        invalid_params=[
                            {"name": name, "reason": "not a parameter of this operation"}
                            for name in unknown
                        ],
                    )
            return await handler(request)

        return checked


class JsonRoute(ApiRoute):
    """A route of a JSON resource: 406 problem+json to an Accept it cannot meet, checked
    before anything else of the request (FastAPI's ``route_class`` hook: one check in the
    handler rather than one more dependency to solve on every request); unknown query
    parameters are a 400 (:class:`ApiRoute`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def negotiated(request: Request) -> Response:
            negotiate(request, ["application/json"])
            return await handler(request)

        return negotiated


def json_router(*tags: str, responses: dict[int | str, dict[str, Any]] | None = None) -> APIRouter:
    """A router of JSON resources (:class:`JsonRoute`), its operations under ``tags`` in the
    OpenAPI document, each documenting ``responses`` before its own."""
    return APIRouter(tags=list(tags) or None, responses=responses, route_class=JsonRoute)
