"""CORS on the OpenID Provider's endpoints that browsers call: token, userinfo, JWKS and
discovery.

Only registered origins are allowed: the origins of the registered clients' redirect
URIs (a browser-based client is served from where it receives its redirect). The answer
names the caller's origin (never ``*``), varies by ``Origin``, and never allows
credentials (cookies): these endpoints take tokens and client credentials in headers and
bodies, which CORS itself does not expose to other origins. Preflights (``OPTIONS`` with
``Access-Control-Request-Method``) are answered here; an unregistered origin gets a
preflight answer without CORS headers, which the browser treats as a refusal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.middleware import scope_headers

# path -> methods a browser may use there
CORS_PATHS: dict[str, str] = {
    "/auth/token": "POST",
    "/auth/userinfo": "GET, POST",
    "/auth/jwks": "GET",
    "/.well-known/openid-configuration": "GET",
    "/.well-known/oauth-authorization-server": "GET",
}
ALLOWED_HEADERS = frozenset({"authorization", "content-type", "dpop"})
EXPOSED = b"WWW-Authenticate, Cache-Control, Pragma"
MAX_AGE = b"600"

OriginLoader = Callable[[], Awaitable[frozenset[str]]]


class RegisteredOrigins:
    """The registered origins, re-read at most every ``ttl`` seconds (a client registered
    or changed is seen within that time)."""

    def __init__(self, load: OriginLoader, ttl: float = 10.0) -> None:
        self._load = load
        self._ttl = ttl
        self._origins: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def allowed(self, origin: str) -> bool:
        if time.monotonic() - self._loaded_at > self._ttl:
            async with self._lock:
                if time.monotonic() - self._loaded_at > self._ttl:
                    self._origins = await self._load()
                    self._loaded_at = time.monotonic()
        return origin in self._origins


class OpCors:
    """ASGI middleware: CORS for :data:`CORS_PATHS`; every other path passes untouched."""

    def __init__(self, app: ASGIApp, origins: RegisteredOrigins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = CORS_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if methods is None:
            await self.app(scope, receive, send)
            return
        found = scope_headers(
            scope, b"origin", b"access-control-request-method", b"access-control-request-headers"
        )
        origin = found.get(b"origin")
        requested_method = found.get(b"access-control-request-method")
        requested_headers = found.get(b"access-control-request-headers")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = await self.origins.allowed(origin.decode("latin-1"))
        if scope["method"] == "OPTIONS" and requested_method is not None:
            await self._preflight(send, origin if allowed else None, methods, requested_headers)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-expose-headers", EXPOSED),
                    (b"vary", b"Origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(
        self, send: Send, origin: bytes | None, methods: str, requested: bytes | None
    ) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if origin is not None:
            headers += [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-methods", methods.encode()),
                (b"access-control-max-age", MAX_AGE),
            ]
            asked = [
                h.strip().lower()
                for h in (requested or b"").decode("latin-1").split(",")
                if h.strip()
            ]
            granted = [h for h in asked if h in ALLOWED_HEADERS]
            if granted:
                headers.append((b"access-control-allow-headers", ", ".join(granted).encode()))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
