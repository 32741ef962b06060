"""Response shaping: the headers every answer carries, problem+json answers, CORS, and
upstream answers made public (hop-by-hop headers dropped, upstream paths rewritten,
unplanned 5xx bodies replaced, large bodies streamed)."""

from __future__ import annotations

import json
import logging

import aiohttp

from servicekit.errors import (
    PROBLEM_JSON,
    MethodNotAllowed,
    NotFound,
    ProblemError,
    problem_for_status,
)

from . import API_VERSION
from .exchange import Exchange, Headers, Send
from .rewrite import PathRewriter, is_json

logger = logging.getLogger("gateway")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)
RESPONSE_DROP = HOP_BY_HOP | {b"server", b"date", b"x-request-id", b"content-length"}
SMALL_BODY = 64 * 1024  # bodies up to this size are read at once (fewer sends, no chunking)
REWRITE_MAX = 8 * 1024 * 1024  # JSON bodies larger than this pass without link rewriting
SECURITY_HEADERS: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# The OpenID Provider answers CORS for its own endpoints (origins registered with its
# clients, preflights included); the gateway's CORS_ORIGINS never apply there.
OP_PATHS = ("/auth/", "/.well-known/")
HSTS = b"max-age=31536000; includeSubDomains"
EXPOSED = (
    b"API-Version, Location, ETag, Link, Retry-After, X-Request-ID, RateLimit-Limit, "
    b"RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, WWW-Authenticate"
)
PROBLEM_TYPE = (b"content-type", PROBLEM_JSON.encode())
VERSION_HEADER = (b"api-version", API_VERSION.encode())
END = {"type": "http.response.body", "body": b""}
# A problem's ``detail`` never repeats the path (it may hold a BSN): ``instance`` carries
# it, masked.
NO_RESOURCE = "There is no resource at this path."
# An answer to a request with an Authorization header is the caller's alone: no shared
# cache may store it unless the upstream said otherwise, and none may serve it to others.
NO_STORE = (b"cache-control", b"no-store")
VARY_AUTHORIZATION = (b"vary", b"Authorization")
PRIVATE: Headers = [NO_STORE, VARY_AUTHORIZATION]


class Responder:
    def __init__(self, cors_origins: list[str], cors_max_age: int) -> None:
        self.cors_any = "*" in cors_origins
        self.cors_origins = {o.encode() for o in cors_origins}
        self.cors_max_age = str(cors_max_age).encode()

    def origin_allowed(self, origin: bytes) -> bool:
        return self.cors_any or origin in self.cors_origins

    async def start(self, ex: Exchange, send: Send, status: int, headers: Headers) -> None:
        """Send the response start with the headers every response carries."""
        ex.status = status
        ex.started = True
        headers.extend(ex.response_headers)
        headers.append((b"x-request-id", ex.request_id.encode()))
        present = {k for k, _ in headers}
        for key, value in SECURITY_HEADERS:
            if key not in present:
                headers.append((key, value))
        if ex.path.startswith("/api/") and b"content-security-policy" not in present:
            headers.append((b"content-security-policy", API_CSP))
        if ex.scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", HSTS))
        origin = ex.headers.get(b"origin")
        if (
            origin is not None
            and b"access-control-allow-origin" not in present
            and not ex.path.startswith(OP_PATHS)
        ):
            if self.origin_allowed(origin):
                headers.append((b"access-control-allow-origin", origin))
                headers.append((b"access-control-expose-headers", EXPOSED))
                headers.append((b"vary", b"Origin"))
            elif ex.path.endswith("/openapi.json"):
                # ADR: OpenAPI documents are readable from any origin.
                headers.append((b"access-control-allow-origin", b"*"))
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def send(
        self, ex: Exchange, send: Send, status: int, headers: Headers, body: bytes
    ) -> None:
        headers.append((b"content-length", str(len(body)).encode()))
        await self.start(ex, send, status, headers)
        await send({"type": "http.response.body", "body": b"" if ex.method == "HEAD" else body})

    async def json(
        self, ex: Exchange, send: Send, status: int, content_type: bytes, doc: object
    ) -> None:
        body = json.dumps(doc).encode()
        await self.send(ex, send, status, [(b"content-type", content_type)], body)

    async def problem(self, ex: Exchange, send: Send, error: ProblemError) -> None:
        body = json.dumps(error.to_dict(ex.path)).encode()
        headers: Headers = [PROBLEM_TYPE, VERSION_HEADER]
        headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
        await self.send(ex, send, error.status, headers, body)

    async def not_allowed(self, ex: Exchange, send: Send, allowed: list[str]) -> None:
        """405 with ``Allow``, or 404 when no method at all is served there."""
        if not allowed:
            await self.problem(ex, send, NotFound(NO_RESOURCE))
            return
        error = MethodNotAllowed(
            "The method is not allowed here; the Allow header lists those that are.",
            headers={"Allow": ", ".join(allowed)},
        )
        await self.problem(ex, send, error)

    async def preflight(self, ex: Exchange, send: Send, origin: bytes, allowed: list[str]) -> None:
        headers: Headers = [VERSION_HEADER]
        if self.origin_allowed(origin):
            requested = ex.headers.get(b"access-control-request-headers", b"")
            headers += [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-methods", ", ".join(allowed).encode()),
                (b"access-control-max-age", self.cors_max_age),
                (b"vary", b"Origin"),
            ]
            if requested:
                headers.append((b"access-control-allow-headers", requested))
        await self.send(ex, send, 204, headers, b"")

    async def relay(
        self,
        ex: Exchange,
        send: Send,
        upstream: str,
        rewriter: PathRewriter | None,
        response: aiohttp.ClientResponse,
    ) -> None:
        """Send an upstream's answer on to the client."""
        status = response.status
        out, content_type, length, encoded = public_headers(response.raw_headers, rewriter)
        private = b"authorization" in ex.headers
        if status >= 500 and not content_type.startswith(PROBLEM_TYPE[1]):
            await self.unplanned_failure(ex, send, upstream, status, out, private)
            return
        if private:
            keep_private(out)
        head = ex.method == "HEAD"
        if head or status in (204, 304):
            if length is not None and head:
                out.append((b"content-length", str(length).encode()))
            await self.start(ex, send, status, out)
            await send(END)
            return
        rewrite = rewriter is not None and not encoded and is_json(content_type)
        if length is not None and length <= (REWRITE_MAX if rewrite else SMALL_BODY):
            body = await response.read()
            if rewriter is not None and rewrite:
                body = rewriter.json_body(body) or body
            await self.send(ex, send, status, out, body)
            return
        if length is not None:
            out.append((b"content-length", str(length).encode()))
        await self.start(ex, send, status, out)
        async for chunk in response.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send(END)

    async def unplanned_failure(
        self, ex: Exchange, send: Send, upstream: str, status: int, out: Headers, private: bool
    ) -> None:
        """A service answering 5xx without problem+json failed in a way it did not plan
        for (a crash page, a proxy error): its body may carry internals, so the client
        gets a problem instead; the upstream's Retry-After still tells it when to come
        back."""
        logger.warning("upstream %s answered %s without problem+json", upstream, status)
        error = problem_for_status(
            status, f"The {upstream} service could not complete the request."
        )
        for key, value in out:
            if key == b"retry-after":
                ex.response_headers.append((key, value))
                break
        if private:
            ex.response_headers += PRIVATE
        await self.problem(ex, send, error)


def keep_private(out: Headers) -> None:
    """An answer to a request with credentials: ``Cache-Control: no-store`` unless the
    upstream said how to cache it, and ``Authorization`` added to its ``Vary``."""
    cache_control = False
    vary = -1  # the index of the upstream's first Vary line
    covered = False  # its Vary names Authorization already (or is "*")
    for index, (key, value) in enumerate(out):
        if key == b"cache-control":
            cache_control = True
        elif key == b"vary":
            if vary < 0:
                vary = index
            covered = covered or varies_by_authorization(value)
    if not cache_control:
        out.append(NO_STORE)
    if vary < 0:
        out.append(VARY_AUTHORIZATION)
    elif not covered:
        out[vary] = (b"vary", out[vary][1] + b", Authorization")


def varies_by_authorization(vary: bytes) -> bool:
    """Does this Vary value name Authorization (or ``*``, everything)?"""
    lowered = vary.lower()
    if b"authorization" not in lowered and b"*" not in lowered:
        return False  # the usual case, without splitting
    return any(name.strip() in (b"authorization", b"*") for name in lowered.split(b","))


def public_headers(
    raw: tuple[tuple[bytes, bytes], ...], rewriter: PathRewriter | None
) -> tuple[Headers, bytes, int | None, bool]:
    """An upstream's headers as the client gets them, with the content type, the declared
    length and whether the body is encoded."""
    out: Headers = []
    content_type = b""
    length: int | None = None
    encoded = False
    named: set[bytes] = set()  # headers the upstream's Connection header names
    for key, value in raw:
        if len(key) == 10 and key.lower() == b"connection":
            named |= {t.strip() for t in value.lower().split(b",")}
    for key, value in raw:
        lower = key.lower()
        if lower in RESPONSE_DROP or (named and lower in named):
            if lower == b"content-length" and value.isdigit():
                length = int(value)
            continue
        if lower == b"content-type":
            content_type = value
        elif lower == b"content-encoding":
            encoded = True
        elif rewriter is not None and lower in (b"location", b"content-location"):
            value = rewriter.path(value.decode("latin-1")).encode("latin-1")
        elif rewriter is not None and lower == b"link":
            value = rewriter.link_header(value.decode("latin-1")).encode("latin-1")
        out.append((lower, value))
    return out, content_type, length, encoded
