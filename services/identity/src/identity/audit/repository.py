"""Writing history rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.actor import Actor
from servicekit.clock import utcnow

from ..common import current_trace_id
from .models import AuditEvent


def actor_name(actor: Actor) -> str:
    """Who acted, as the audit trail names them: the token's client and subject, or the
    name of a system job (``cli``, ``seed``)."""
    return f"{actor.client_id}:{actor.subject}" if actor.client_id else actor.subject


def audit_event(
    *, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None
) -> AuditEvent:
    return AuditEvent(
        at=utcnow(),
        actor=actor,
        action=action,
        subject=subject,
        detail=detail or {},
        trace_id=current_trace_id(),
    )


def add_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append a history row in the caller's transaction (never updated or deleted)."""
    session.add(audit_event(actor=actor, action=action, subject=subject, detail=detail))
