"""RFC 9457 problem details: one exception hierarchy, one set of handlers.

Every error a Samen service answers is ``application/problem+json`` with ``type``,
``title``, ``status``, ``detail`` and ``instance``; validation errors add
``invalidParams``. Internals (stack traces, SQL, upstream bodies) never leave the service.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .masking import mask_bsns

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://samen.example.nl/problems/"

logger = logging.getLogger("servicekit.errors")


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


class ProblemError(Exception):
    """A domain or protocol error that becomes a problem+json response."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        title: str | None = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        if title:
            self.title = title
        if slug:
            self.slug = slug
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
            "detail": mask_bsns(self.detail),
        }
        if instance:
            body["instance"] = mask_bsns(instance)
        body.update(self.extra)
        return body


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad Request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        invalid_params: list[dict[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detail, **kwargs)
        if invalid_params is not None:
            self.extra["invalidParams"] = invalid_params


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(
        self, detail: str | None = None, *, error: str = "invalid_token", **kwargs: Any
    ) -> None:
        super().__init__(detail, **kwargs)
        safe = (detail or self.title).replace('"', "'")
        self.headers.setdefault(
            "WWW-Authenticate", f'Bearer error="{error}", error_description="{safe}"'
        )


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class InsufficientScope(Forbidden):
    slug, title = "insufficient-scope", "Insufficient Scope"

    def __init__(self, scopes: list[str], **kwargs: Any) -> None:
        needed = " ".join(scopes)
        super().__init__(
            f"This operation needs the scope(s): {needed}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
            extra={"requiredScopes": scopes},
            **kwargs,
        )


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not Found"


class MethodNotAllowed(ProblemError):
    status, slug, title = 405, "method-not-allowed", "Method Not Allowed"


class NotAcceptable(ProblemError):
    status, slug, title = 406, "not-acceptable", "Not Acceptable"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(ProblemError):
    status, slug, title = 410, "gone", "Gone"


class PreconditionFailed(ProblemError):
    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Content Too Large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class UnprocessableContent(ProblemError):
    status, slug, title = 422, "unprocessable-content", "Unprocessable Content"


class PreconditionRequired(ProblemError):
    status, slug, title = 428, "precondition-required", "Precondition Required"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too Many Requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **kwargs: Any):
        super().__init__(detail, **kwargs)
        self.headers.setdefault("Retry-After", str(max(1, retry_after)))


class InternalError(ProblemError):
    status, slug, title = 500, "internal-error", "Internal Server Error"


class NotImplementedYet(ProblemError):
    status, slug, title = 501, "not-implemented", "Not Implemented"


class BadGateway(ProblemError):
    status, slug, title = 502, "bad-gateway", "Bad Gateway"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"

    def __init__(
        self, detail: str | None = None, *, retry_after: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(detail, **kwargs)
        if retry_after is not None:
            self.headers.setdefault("Retry-After", str(max(1, retry_after)))


class GatewayTimeout(ProblemError):
    status, slug, title = 504, "gateway-timeout", "Gateway Timeout"


_BY_STATUS: dict[int, type[ProblemError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Conflict,
        Gone,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        UnprocessableContent,
        PreconditionRequired,
        TooManyRequests,
        InternalError,
        NotImplementedYet,
        BadGateway,
        ServiceUnavailable,
        GatewayTimeout,
    )
}


def problem_for_status(status: int, detail: str | None = None) -> ProblemError:
    cls = _BY_STATUS.get(status)
    if cls is None:
        err = ProblemError(detail, title=HTTPStatus(status).phrase, slug=str(status))
        err.status = status
        return err
    return cls(detail)


def problem_response(
    error: ProblemError, instance: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    merged = {**error.headers, **(headers or {})}
    return JSONResponse(
        error.to_dict(instance),
        status_code=error.status,
        headers=merged,
        media_type=PROBLEM_JSON,
    )


# The members of a union pydantic tried, as it names them in an error's location
# (``none``, ``constrained-str``, ``function-before[…]``): not part of the field's name.
_UNION_MEMBER = re.compile(
    r"none|nullable|str|int|float|bool|date|datetime|decimal|uuid|[a-z]+(-[a-z]+)+|[a-z-]+\[.*\]"
)
_NOT_NONE = "Input should be None"


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    """Turn pydantic's error location into a parameter name (``body.lots[0].title``)."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where = parts.pop(0)
        if not parts:
            return str(where)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif name and _UNION_MEMBER.fullmatch(str(part)):
            continue
        else:
            name += ("." if name else "") + str(part)
    return name


def invalid_params_from(exc: RequestValidationError) -> list[dict[str, str]]:
    params: list[dict[str, str]] = []
    for err in exc.errors():
        reason = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            reason = "Body is not valid JSON"
        param = {"name": _location(err.get("loc", ())) or "body", "reason": reason}
        if param not in params:
            params.append(param)
    # An optional member's value failed its type, so it was not null either: say the first.
    named = {p["name"] for p in params if p["reason"] != _NOT_NONE}
    return [p for p in params if p["reason"] != _NOT_NONE or p["name"] not in named]


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc, request.url.path)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    params = invalid_params_from(exc)
    json_broken = any(e.get("type") == "json_invalid" for e in exc.errors())
    detail = (
        "The request body is not valid JSON."
        if json_broken
        else "The request has invalid parameters."
    )
    return problem_response(BadRequest(detail, invalid_params=params), request.url.path)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    # The path is the problem's ``instance`` (which the gateway gives as the client sent
    # it); the detail does not repeat the service's own.
    if exc.status_code == 404 and detail in (None, "Not Found"):
        detail = "No resource at this address."
    elif exc.status_code == 405 and detail in (None, "Method Not Allowed"):
        detail = f"Method {request.method} is not allowed at this address."
    error = problem_for_status(exc.status_code, detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        named = ",".join(headers.pop(k) for k in [k for k in headers if k.lower() == "allow"])
        headers["Allow"] = ", ".join(allowed_methods(request, named))
    return problem_response(error, request.url.path, headers)


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def allowed_methods(request: Request, starlette_allow: str = "") -> list[str]:
    """Every method the app serves at the request's path (RFC 9110 §15.5.6): those of
    every route in ``app.state.method_routes`` (set by ``create_service_app``) whose
    path matches, and those Starlette named. Starlette's own 405 names only the methods
    of the first route that matched the path, and FastAPI makes one route per method."""
    methods = {m.strip().upper() for m in starlette_allow.split(",") if m.strip()}
    path = request.url.path
    for route in getattr(request.app.state, "method_routes", ()):
        if route.path_regex.match(path):
            methods.update(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")  # HeadMiddleware answers HEAD wherever GET is served
    return sorted(methods, key=lambda m: (*_METHOD_ORDER, m).index(m))


# SQLSTATEs of a connection the server ended or refused: connection exceptions (08…),
# admin shutdown, crash shutdown, cannot connect now (a restarting server).
_LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def lost_database_connection(exc: BaseException) -> bool:
    """Whether a database error means the connection was lost or left unusable (the server
    restarted or terminated it, the network dropped it), so that the same request can
    succeed on a fresh connection. SQLAlchemy flags most of these (``connection_invalidated``);
    asyncpg also reports a connection killed mid-statement as a closed connection, a
    termination notice (57P01) or a protocol left mid-operation, which it does not."""
    if getattr(exc, "connection_invalidated", False):
        return True
    cause: BaseException | None = exc
    for _depth in range(8):
        if cause is None:
            break
        if isinstance(cause, ConnectionError):
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_LOST_SQLSTATES):
            return True
        name = type(cause).__name__
        if name == "ConnectionDoesNotExistError" or (
            name in ("InterfaceError", "InternalClientError")
            and ("connection is closed" in str(cause) or "another operation" in str(cause))
        ):
            return True
        cause = getattr(cause, "orig", None) or cause.__cause__ or cause.__context__
    return False


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    """A lost database connection is a 503 to retry, not a 500; other errors re-raise
    (the request middleware logs them and answers 500)."""
    if not lost_database_connection(exc):
        raise exc
    logger.warning(
        "database connection lost on %s %s: %s", request.method, request.url.path,
        type(exc).__name__,
    )  # fmt: skip
    error = ServiceUnavailable("The database connection was lost; try again.", retry_after=1)
    return problem_response(error, request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the one set of handlers that turns every error into problem+json."""
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    # A database that restarts (or refuses connections meanwhile): 503 with Retry-After.
    app.add_exception_handler(DBAPIError, _database_handler)
    app.add_exception_handler(ConnectionError, _database_handler)
