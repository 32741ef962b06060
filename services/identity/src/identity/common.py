"""Small helpers shared by the identity aggregates: hashing, trace ids, columns."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from opentelemetry import trace
from sqlalchemy import Column
from sqlmodel import Field

from servicekit.clock import UtcDateTime


def timestamp(nullable: bool = False, index: bool = False) -> Any:
    """A timestamp column, aware (UTC) on both databases."""
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def keyed_hash(secret: str, *parts: str) -> str:
    """HMAC-SHA256 of the parts (unlinkable without the secret)."""
    message = "\x1f".join(parts).encode()
    return b64url(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def add_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with the parameters that are not None added to its query."""
    clean = {k: v for k, v in params.items() if v is not None}
    return uri + ("&" if "?" in uri else "?") + urlencode(clean)
