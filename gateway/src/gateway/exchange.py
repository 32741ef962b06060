"""What one request carries through the gateway, and the ASGI types it travels with."""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry.trace import Span

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_random_bits = random.getrandbits  # ids need to be unique, not secret: no system call
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class ClientGone(Exception):
    """The client disconnected while the gateway was reading its body."""


class UpstreamBroken(Exception):
    """The upstream failed after the response had started."""


class Exchange:
    """One request and what is known about its answer (slots: one is made per request)."""

    __slots__ = (
        "client_ip",
        "header_bytes",
        "headers",
        "method",
        "path",
        "request_id",
        "response_headers",
        "route_name",
        "scope",
        "span",
        "started",
        "status",
    )

    def __init__(self, scope: Scope) -> None:
        headers: dict[bytes, bytes] = {}
        size = 0
        for key, value in scope["headers"]:
            size += len(key) + len(value)
            if key in headers:
                # Repeated headers fold into one value (RFC 9110 5.3); cookies use "; ".
                headers[key] += (b"; " if key == b"cookie" else b", ") + value
            else:
                headers[key] = value
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        self.scope = scope
        self.headers = headers
        self.header_bytes = size
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.request_id = (
            incoming if _REQUEST_ID_OK.match(incoming) else f"{_random_bits(128):032x}"
        )
        self.route_name = "unmatched"
        self.status = 500
        self.started = False
        self.span: Span | None = None  # the server span, once started
        self.response_headers: Headers = []  # added to whatever the answer is
        client = scope.get("client")
        self.client_ip: str = client[0] if client else "unknown"
