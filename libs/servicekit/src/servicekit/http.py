"""HTTP helpers for writes: ETag / If-Match, content negotiation, Location."""

from __future__ import annotations

import hashlib

from fastapi import Request

from .errors import NotAcceptable, PreconditionFailed, PreconditionRequired


def make_etag(*parts: object) -> str:
    """A strong ETag from the resource's identity and version."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def require_if_match(request: Request, current_etag: str) -> None:
    """412 when the client's ``If-Match`` is stale, 428 when it sent none."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired(
            "This change needs an If-Match header with the ETag from a recent read."
        )
    candidates = [c.strip() for c in header.split(",")]
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
    """Router dependency: JSON resources answer 406 to an Accept they cannot meet."""
    negotiate(request, ["application/json"])
