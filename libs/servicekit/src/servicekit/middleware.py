"""Pure ASGI middleware every service uses (cheap on the hot path).

- :class:`RequestContextMiddleware`: request id (``X-Request-ID``, generated when absent
  or malformed), ``API-Version`` and ``Vary: Authorization`` on every response,
  ``Cache-Control: no-store`` on an answer to a request with a token that chose no
  caching of its own, and a last-resort handler that turns any unhandled exception into a
  generic 500 problem (no internals).
- :class:`BodyLimitMiddleware`: 413 for bodies over the limit, whether announced by
  ``Content-Length`` or streamed.
- :class:`HeadMiddleware`: HEAD answered as GET without the body.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import PROBLEM_JSON, BadRequest, InternalError, PayloadTooLarge, ProblemError
from .logs import request_id_var

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("servicekit.requests")

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


def scope_headers(scope: Scope, *names: bytes) -> dict[bytes, bytes]:
    """The named request headers the request has, by lower-case name (of a repeated one,
    the last)."""
    return {key: value for key, value in scope["headers"] if key in names}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_problem(
    send: Send,
    error: ProblemError,
    instance: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(error.to_dict(instance)).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    headers += extra_headers or []
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class StatusSend:
    """Passes an app's messages on to ``send``, keeping the response's status (``status``
    until the response starts)."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send, status: int | None = None) -> None:
        self.send = send
        self.status = status

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


# Every answer varies with the Authorization header: the same read shows more to a
# token holder (contract details, exposure) than to the public, so a shared or browser
# cache must key its copies on it, the public answer too (else a cached public copy would
# answer a token holder and the reverse). An answer to a request with a token is personal:
# no-store unless the endpoint chose its own Cache-Control (identity's JWKS, its no-store
# answers). A constant per-answer rule: one header check, no parsing.
VARY_AUTHORIZATION = (b"vary", b"Authorization")
NO_STORE = (b"cache-control", b"no-store")
_REPLACED = (b"api-version", b"x-request-id")


class RequestContextMiddleware:
    """Request id, ``API-Version``, ``Vary: Authorization`` on every answer and
    ``Cache-Control: no-store`` on one to a token holder that set none; the last-resort
    500. The one place every answer's headers are rebuilt, so the cache rule costs an
    append."""

    def __init__(self, app: ASGIApp, api_version: str) -> None:
        self.app = app
        self.api_version = api_version.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming: bytes | None = None
        authorized = False
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value
            elif key == b"authorization":
                authorized = True
        chosen = incoming.decode("latin-1") if incoming is not None else None
        request_id = chosen if chosen and _REQUEST_ID_OK.match(chosen) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = False
        extra = [
            (b"api-version", self.api_version),
            (b"x-request-id", request_id.encode()),
            VARY_AUTHORIZATION,
        ]

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _REPLACED
                ]
                if authorized:
                    for k, _v in headers:
                        if k.lower() == b"cache-control":
                            break
                    else:
                        headers.append(NO_STORE)
                message["headers"] = headers + extra
            await send(message)

        path = scope.get("path", "")
        nul = b"%00" in scope.get("query_string", b"") or "\x00" in path
        if nul and path.startswith("/v1/"):
            # PostgreSQL cannot hold NUL in text: refuse it at the edge of the REST API
            # as bad input (protocol endpoints such as OIDC's answer in their own way).
            request_id_var.reset(token)
            await send_problem(
                send_with_headers,
                BadRequest("NUL characters are not allowed in the URL."),
                path.replace("\x00", ""),
            )
            return

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_problem(
                    send_with_headers,
                    InternalError("The server could not complete the request."),
                    scope.get("path", ""),
                )
        finally:
            request_id_var.reset(token)


class HeadMiddleware:
    """HEAD answered as GET, with GET's status and headers and no body (RFC 9110 9.3.2:
    every resource that answers GET answers HEAD). FastAPI routes only the methods a
    route declares, so without this HEAD was a 405. Added innermost: the middleware
    around it (spans, metrics) still sees HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # The same scope, so the route the router records on it reaches the metrics.
        scope["method"] = "GET"
        try:
            await self.app(scope, receive, send_without_body)
        finally:
            scope["method"] = "HEAD"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is None and _header(scope, b"transfer-encoding") is None:
            # No body at all (HTTP/1.1 has none without either header): nothing to count.
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"The request body exceeds {self.max_bytes} bytes.")
        if declared is not None:
            if not declared.isdigit():
                await send_problem(
                    send, BadRequest("Invalid Content-Length header."), scope["path"]
                )
                return
            if int(declared) > self.max_bytes:
                await send_problem(send, too_large, scope["path"])
                return
        received = 0
        sent = StatusSend(send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, sent)
        except _BodyTooLarge:
            if sent.status is None:
                await send_problem(send, too_large, scope["path"])


class _BodyTooLarge(StarletteHTTPException):
    """Raised while reading the body; an HTTPException so FastAPI passes it through."""

    def __init__(self) -> None:
        super().__init__(413, "The request body exceeds the size limit.")


class MediaTypeMiddleware:
    """415 for a request body whose Content-Type the service does not accept."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = tuple(a.lower() for a in allowed)

    def _accepted(self, content_type: str) -> bool:
        media = content_type.split(";", 1)[0].strip().lower()
        if media in self.allowed:
            return True
        return (
            "application/*+json" in self.allowed
            and media.startswith("application/")
            and media.endswith("+json")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            length = _header(scope, b"content-length")
            has_body = (length not in (None, "0")) or _header(
                scope, b"transfer-encoding"
            ) is not None
            content_type = _header(scope, b"content-type")
            if has_body and (content_type is None or not self._accepted(content_type)):
                from .errors import UnsupportedMediaType

                await send_problem(
                    send,
                    UnsupportedMediaType(
                        f"Content-Type must be one of: {', '.join(self.allowed)}."
                    ),
                    scope["path"],
                )
                return
        await self.app(scope, receive, send)
