"""Login sessions: created after an upstream login, reused while they satisfy a request
(level, max_age, prompt), ended by RP-initiated logout."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from servicekit.clock import aware, utcnow

from ..audit.models import AuditEvent
from ..audit.repository import audit_event
from ..broker.means import UpstreamIdentity, loa_rank
from ..common import keyed_hash, random_token, sha256_hex
from ..config import Settings
from ..crypto import Sealer
from .models import LoginSession
from .repository import SessionRepository

if TYPE_CHECKING:
    from ..tokens.repository import FamilyRevocation


class SessionService:
    def __init__(self, settings: Settings, repository: SessionRepository) -> None:
        self.settings = settings
        self.repository = repository
        self.attributes = Sealer(settings.key_encryption_keys, "session-attributes")
        # Keyed by the secret of pairwise subjects, not the key-encryption key: a token
        # outlives a KEK rotation, and this secret never changes (subs derive from it).
        self.references = Sealer(settings.secret, "session-reference")

    def person_hash(self, person_key: str) -> str:
        return keyed_hash(self.settings.secret, "person", person_key)

    async def load(self, cookie: str | None) -> LoginSession | None:
        """The live session of this cookie, if any."""
        if not cookie or len(cookie) > 128:
            return None
        row = await self.repository.get(sha256_hex(cookie))
        if row is None or row.ended_at is not None or aware(row.expires_at) <= utcnow():
            return None
        return row

    def reference(self, row: LoginSession) -> str:
        """The session as an access token names it for userinfo: sealed, so that tokens
        of clients in different sectors share no identifier (their ``sid`` differs)."""
        return self.references.seal({"s": row.id_hash})

    async def by_reference(self, reference: object) -> LoginSession | None:
        """The session a :meth:`reference` names, if it is still there."""
        if not isinstance(reference, str):
            return None
        try:
            id_hash = self.references.open(reference).get("s")
        except ValueError:
            return None
        return await self.repository.get(id_hash) if isinstance(id_hash, str) else None

    @staticmethod
    def satisfies(row: LoginSession, params: dict[str, Any], required: str) -> bool:
        """Whether the session may answer a request without a new login."""
        if loa_rank(row.acr) < loa_rank(required):
            return False
        if "login" in params.get("prompt", []):
            return False
        max_age = params.get("max_age")
        return not (
            max_age is not None and (utcnow() - aware(row.auth_time)).total_seconds() > max_age
        )

    def new(self, identity: UpstreamIdentity) -> tuple[str, LoginSession, AuditEvent]:
        """A new session's cookie, row and history row (not stored yet)."""
        cookie = random_token(32)
        now = utcnow()
        row = LoginSession(
            id_hash=sha256_hex(cookie),
            person_hash=self.person_hash(identity.person_key),
            means=identity.means,
            acr=identity.loa,
            auth_time=now,
            attributes_encrypted=self.attributes.seal(identity.to_dict()),
            expires_at=now + timedelta(seconds=self.settings.session_lifetime),
            ended_at=None,
        )
        audit = audit_event(
            actor=f"person:{row.person_hash[:16]}",
            action="session.created",
            subject=row.id_hash[:16],
            detail={"means": identity.means, "acr": identity.loa},
        )
        return cookie, row, audit

    def identity_of(self, row: LoginSession) -> UpstreamIdentity:
        return UpstreamIdentity.from_dict(self.attributes.open(row.attributes_encrypted))

    async def end(
        self, row: LoginSession, actor: str, revocation: FamilyRevocation | None = None
    ) -> None:
        """End the session; its refresh-token families are revoked, and with
        ``revocation`` also the access tokens they gave."""
        await self.repository.end(row.id_hash, utcnow(), actor, revocation)
