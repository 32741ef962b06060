"""Who made a change, as history rows and events record it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .auth import Principal
from .events import current_traceparent

MAX_SUBJECT_LENGTH = 200


@dataclass(frozen=True)
class Actor:
    """A verified token's subject (identity's pseudonym, never a BSN), its organisation
    and client, and the trace of the request; or a system job (:meth:`system`)."""

    subject: str
    org_id: str | None = None
    client_id: str | None = None
    trace: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(
            principal.subject[:MAX_SUBJECT_LENGTH],
            principal.org_id,
            principal.client_id,
            current_traceparent(),
        )

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(f"system:{name}")

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "orgId": self.org_id, "clientId": self.client_id}
