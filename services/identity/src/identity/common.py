"""Small helpers shared by the identity domains: time, hashing, trace ids, audit rows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEvent


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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


def add_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append a history row in the caller's transaction (never updated or deleted)."""
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=actor,
            action=action,
            subject=subject,
            detail=detail or {},
            trace_id=current_trace_id(),
        )
    )
