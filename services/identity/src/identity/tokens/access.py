"""Using the access tokens issued: verification of our own tokens (with the revocation
list), introspection (RFC 7662), revocation (RFC 7009), the revocation feed for resource
servers, and userinfo."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from servicekit.auth import is_access_token_type
from servicekit.clock import aware, utcnow

from ..clients.models import Client
from ..clients.service import ClientCache
from ..common import sha256_hex
from ..keys.service import KeyStore
from ..oauth.errors import OAuthError
from ..sessions.service import SessionService
from .claims import Claims
from .repository import FamilyRevocation, TokenRepository
from .service import TokenService

# The revocation feed resends this much before a cursor (see AccessTokens.revocation_feed).
FEED_OVERLAP_SECONDS = 60.0


@dataclass(eq=False)
class AccessTokens:
    issuer: str
    repository: TokenRepository
    keys: KeyStore
    clients: ClientCache
    claims: Claims
    sessions: SessionService
    family_revocation: Callable[[datetime], FamilyRevocation]

    async def claims_of(self, token: str) -> dict[str, Any] | None:
        """Claims of a valid, unexpired, unrevoked access token we issued, else None."""
        if token.count(".") != 2:
            return None
        try:
            header = extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError):
            return None
        if not is_access_token_type(header.get("typ")):
            return None  # an ID token is no access token (RFC 9068 §4)
        try:
            claims = await self.keys.verify_own(token)
        except ValueError:
            return None
        now = time.time()
        if claims.get("iss") != self.issuer or not isinstance(claims.get("exp"), int):
            return None
        if claims["exp"] <= now or claims.get("nbf", 0) > now + 30 or "nonce" in claims:
            return None
        if await self.repository.is_revoked(str(claims.get("jti"))):
            return None
        return claims

    async def introspect(self, client: Client, token: str) -> dict[str, Any]:
        claims = await self.claims_of(token)
        if claims is not None:
            # Only the token's own client and resource servers for its audience learn
            # that it is active (and what it says).
            aud = claims.get("aud")
            audiences = {aud} if isinstance(aud, str) else set(aud or [])
            if claims.get("client_id") != client.client_id and not (
                audiences & set(client.resource_audiences or [])
            ):
                return {"active": False}
            return {"active": True, "token_type": "Bearer", **claims}
        row = await self.repository.refresh_token(sha256_hex(token))
        if (
            row is not None
            and row.client_id == client.client_id
            and row.used_at is None
            and row.revoked_at is None
            and aware(row.expires_at) > utcnow()
        ):
            return {
                "active": True,
                "token_type": "refresh_token",
                "client_id": row.client_id,
                "scope": row.scope,
                "exp": int(aware(row.expires_at).timestamp()),
                "iss": self.issuer,
            }
        return {"active": False}

    async def revoke(self, client: Client, token: str) -> None:
        """An access token joins the revocation list; a refresh token revokes its family.
        Unknown tokens are not an error (RFC 7009)."""
        now = utcnow()
        claims = await self.claims_of(token)
        if claims is not None:
            if claims.get("client_id") != client.client_id:
                raise OAuthError("unauthorized_client", "The token was issued to another client.")
            expires = now + timedelta(seconds=max(0, claims["exp"] - int(time.time())))
            await self.repository.revoke_access_token(
                str(claims["jti"]), client.client_id, expires, now
            )
            return
        row = await self.repository.refresh_token(sha256_hex(token))
        if row is None:
            return
        if row.client_id != client.client_id:
            raise OAuthError("unauthorized_client", "The token was issued to another client.")
        await self.repository.revoke_refresh_family(
            row.family_id, client.client_id, now, self.family_revocation(now)
        )

    async def revocation_feed(self, client: Client, since: str | None) -> dict[str, Any]:
        """The feed for resource servers (``servicekit.revocations`` polls it): revoked
        access tokens not yet expired, ``{"jti", "exp"}`` each, and a ``cursor``. Asked with
        ``since=<cursor>`` it resends from :data:`FEED_OVERLAP_SECONDS` before the cursor, so
        that a revocation committed late is not missed (entries are added idempotently)."""
        if not client.resource_audiences:
            raise OAuthError(
                "unauthorized_client", "Only resource servers read the revocation feed.", 403
            )
        start: float | None = None
        if since is not None:
            try:
                start = float(since)
            except ValueError:
                start = None
            if start is None or not math.isfinite(start) or start < 0:
                raise OAuthError("invalid_request", "since must be a cursor of this feed.")
        return await self.revoked_since(start)

    async def revoked_since(self, start: float | None) -> dict[str, Any]:
        """The feed's answer (identity's own API reads it directly)."""
        now = time.time()
        since = max(0.0, (start or 0.0) - FEED_OVERLAP_SECONDS) if start is not None else 0.0
        rows = await self.repository.revoked_since(
            datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(now, UTC)
        )
        return {
            "revoked": [{"jti": jti, "exp": int(aware(exp).timestamp())} for jti, exp in rows],
            "cursor": f"{now:.3f}",
        }

    async def userinfo(self, token: str) -> tuple[Client, dict[str, Any]]:
        """The token's client and the claims it may learn at userinfo."""
        claims = await self.claims_of(token)
        if claims is None:
            raise OAuthError("invalid_token", "The access token is invalid, expired or revoked.")
        if "openid" not in str(claims.get("scope", "")).split():
            raise OAuthError("insufficient_scope", "The access token lacks the openid scope.")
        client = await self.clients.get(str(claims.get("client_id")))
        login = await self.sessions.by_reference(claims.get("ses"))
        if client is None or login is None or login.ended_at is not None:
            raise OAuthError("invalid_token", "The login session of this token has ended.")
        identity = self.sessions.identity_of(login)
        scopes = str(claims["scope"]).split()
        # The `claims` request's userinfo member, as carried by the access token: only
        # those of the person's attributes (and never more than scope and registration
        # allow, which person_claims enforces).
        allowance = claims.get("userinfo_claims")
        claims_request = (
            {"userinfo": dict.fromkeys(allowance)} if isinstance(allowance, list) else None
        )
        person = self.claims.person_claims(client, identity, scopes, claims_request, "userinfo")
        out = {"sub": claims["sub"], **person}
        released = sorted(out)
        represents = out.get("represents")
        if isinstance(represents, dict) and "bsn" in represents:
            released.append("represents.bsn")
        disclosure = TokenService.disclosure(client, login, "userinfo", released)
        await self.repository.add_disclosure(disclosure)
        return client, out
