"""The token endpoint's grants: client_credentials, authorization_code (with replay
handling) and refresh_token (one-time use, rotated, reuse revokes the family)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from servicekit.clock import aware, utcnow

from ..authorization.service import AuthorizationService
from ..clients.models import Client
from ..common import current_trace_id, keyed_hash, random_token, sha256_hex
from ..config import Settings
from ..disclosures.models import Disclosure
from ..keys.service import KeyStore
from ..oauth.errors import OAuthError
from ..sessions.models import LoginSession
from ..sessions.service import SessionService
from .claims import PSEUDONYM, Claims, userinfo_allowance
from .models import RefreshToken
from .repository import FamilyRevocation, TokenRepository


@dataclass(eq=False)
class TokenService:
    settings: Settings
    issuer: str
    repository: TokenRepository
    keys: KeyStore
    claims: Claims
    sessions: SessionService
    authorization: AuthorizationService

    def access_lifetime(self, client: Client) -> int:
        if client.token_endpoint_auth_method == "none":  # noqa: S105
            return min(self.settings.public_client_access_token_lifetime, 900)
        return min(self.settings.access_token_lifetime, 3600)

    def access_jti(self, kind: str, grant_hash: str) -> str:
        """The jti of the access token a code or refresh token was redeemed for.

        Derived (keyed) from the grant's stored hash, so a replayed code can revoke the
        access tokens its redemptions produced without storing anything per grant."""
        return keyed_hash(self.settings.secret, "access-jti", kind, grant_hash)

    def sid(self, client: Client, login: LoginSession) -> str:
        """The ``sid`` a client is told for a login session: per sector (like ``sub``), so
        that clients of different sectors cannot link their pairwise subjects by it."""
        return keyed_hash(self.settings.secret, "sid", client.sector, login.id_hash)

    def family_of(self, code_hash: str) -> str:
        """The refresh-token family a code starts: derived, so that a revoked family names
        the code's access token and a replayed code its family."""
        return keyed_hash(self.settings.secret, "refresh-family", code_hash)

    def code_access_jti(self, code_hash: str) -> str:
        """The jti of the access token a code was redeemed for (via its family)."""
        return self.access_jti("family", self.family_of(code_hash))

    def family_revocation(self, now: datetime) -> FamilyRevocation:
        """A revoked family's access tokens: the code's (named by the family) and each
        redeemed refresh token's, listed as long as any access token can live."""

        def jtis(family_id: str, spent: Sequence[str]) -> list[str]:
            return [self.access_jti("family", family_id)] + [
                self.access_jti("refresh", h) for h in spent
            ]

        longest = max(
            self.settings.access_token_lifetime, self.settings.public_client_access_token_lifetime
        )
        return FamilyRevocation(jtis, now + timedelta(seconds=longest + 60))

    async def mint_access_token(
        self,
        client: Client,
        sub: str,
        scopes: list[str],
        extra: dict[str, Any],
        jti: str | None = None,
    ) -> tuple[str, int]:
        now = int(time.time())
        lifetime = self.access_lifetime(client)
        claims = {
            "iss": self.issuer,
            "aud": ["samen", client.client_id],
            "azp": client.client_id,
            "client_id": client.client_id,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": jti or uuid.uuid4().hex,
            "scope": " ".join(scopes),
            **{k: v for k, v in extra.items() if v not in (None, [], "")},
        }
        return await self.keys.sign(claims, "RS256", typ="at+jwt"), lifetime

    # -------------------------------------------------------------------- grants
    async def client_credentials(self, client: Client, scope: str | None) -> dict[str, Any]:
        if client.grant_type != "client_credentials":
            raise OAuthError("unauthorized_client", "This client may not use client_credentials.")
        if scope is None or not scope.strip():
            scopes = list(client.allowed_scopes)
        else:
            # Scopes the client may not have are dropped (RFC 6749 §3.3); none left is an
            # error, not a token for nothing.
            asked = list(dict.fromkeys(scope.split()))
            scopes = [s for s in asked if s in client.allowed_scopes]
            if not scopes:
                raise OAuthError(
                    "invalid_scope", f"No scope allowed for this client: {' '.join(asked)}"
                )
        extra = {"org_id": client.org_id, "org_type": client.org_type, "roles": list(client.roles)}
        token, lifetime = await self.mint_access_token(client, client.client_id, scopes, extra)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
        }

    async def authorization_code(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if client.grant_type != "authorization_code":
            raise OAuthError("unauthorized_client", "This client may not use the code flow.")
        if not form.get("code"):
            raise OAuthError("invalid_request", "code is required.")
        verifier = form.get("code_verifier")
        if not verifier:
            raise OAuthError("invalid_request", "PKCE is required: code_verifier is missing.")
        now = utcnow()
        code_hash = sha256_hex(form["code"])
        spent = await self.authorization.spend_code(client, form, verifier, now)
        if spent is None:
            if await self.repository.revoke_after_replay(
                code_hash,
                client.client_id,
                now,
                self.family_of(code_hash),
                self.family_revocation(now),
            ):
                raise OAuthError("invalid_grant", "The code was already used.")
            raise OAuthError("invalid_grant", "The code is invalid.")
        code, login = spent.code, spent.login
        assert login is not None  # spend_code refuses a code whose session has ended
        # Signed outside any transaction; recording re-checks the code under a row lock.
        return await self._user_tokens(
            client,
            login,
            code.scope,
            code.nonce,
            code.claims_request,
            family_id=self.family_of(code_hash),
            code_hash=code_hash,
        )

    async def refresh(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if not client.refresh_tokens_enabled:
            raise OAuthError(
                "unauthorized_client", "Refresh tokens are not enabled for this client."
            )
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required.")
        token_hash = sha256_hex(token)
        asked = form["scope"].split() if form.get("scope") else None
        if asked is not None:
            # A wider scope is refused before the token is used, so the client can retry
            # with its own scope (RFC 6749 §6). A spent token goes on to reuse detection.
            held = await self.repository.unspent_refresh_scope(token_hash, client.client_id)
            if held is not None and not set(asked) <= set(held.split()):
                raise OAuthError("invalid_scope", "A refresh cannot widen the scope.")
        now = utcnow()
        row, reused = await self.repository.use_refresh_token(
            token_hash, client.client_id, now, self.family_revocation(now)
        )
        if row is None:
            raise OAuthError("invalid_grant", "The refresh token is invalid.")
        if reused:
            raise OAuthError("invalid_grant", "The refresh token was already used or revoked.")
        if aware(row.expires_at) <= now:
            raise OAuthError("invalid_grant", "The refresh token has expired.")
        scope = row.scope
        if asked is not None:
            if not set(asked) <= set(row.scope.split()):
                raise OAuthError("invalid_scope", "A refresh cannot widen the scope.")
            scope = " ".join(asked)
        login = await self.sessions.repository.get(row.session_hash)
        if login is None or login.ended_at is not None:
            raise OAuthError("invalid_grant", "The login session has ended.")
        return await self._user_tokens(
            client,
            login,
            scope,
            None,
            row.claims_request,
            family_id=row.family_id,
            refresh_hash=token_hash,
            family_expires=row.family_expires_at,
            # A narrowed refresh narrows the access token only (RFC 6749 §6).
            refresh_scope=row.scope,
        )

    async def _user_tokens(
        self,
        client: Client,
        login: LoginSession,
        requested_scope: str,
        nonce: str | None,
        claims_request: dict[str, Any] | None,
        family_id: str | None,
        code_hash: str | None = None,
        refresh_hash: str | None = None,
        family_expires: datetime | None = None,
        refresh_scope: str | None = None,
    ) -> dict[str, Any]:
        """The tokens of a person's grant (ID token only with a nonce, i.e. for a code),
        then its records; the access token's jti derives from the redeemed grant."""
        identity = self.sessions.identity_of(login)
        scopes = self.claims.granted_scopes(client, requested_scope, identity)
        sub = self.claims.pairwise_sub(client.sector, identity.person_key)
        person = self.claims.person_claims(client, identity, scopes, claims_request, "id_token")
        extra = {
            "acr": login.acr,
            "auth_time": int(aware(login.auth_time).timestamp()),
            "sid": self.sid(client, login),
            "org_id": person.get("org_id"),
            "org_type": person.get("org_type"),
            "roles": person.get("roles"),
            "userinfo_claims": userinfo_allowance(claims_request),
        }
        jti = self.code_access_jti(code_hash) if code_hash else None
        if refresh_hash:
            jti = self.access_jti("refresh", refresh_hash)
        # `ses` lets userinfo find the session; sealed, it links nothing.
        in_access = {**extra, "ses": self.sessions.reference(login)}
        access, lifetime = await self.mint_access_token(client, sub, scopes, in_access, jti)
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
        }
        # What this client learns: the ID token's claims, or without an ID token (a
        # refresh) only what the access token carries.
        in_access_token = [k for k in ("org_id", "org_type", "roles") if extra[k] is not None]
        disclosed = sorted({"sub", "acr", *(person if nonce is not None else in_access_token)})
        if nonce is not None:
            response["id_token"] = await self._id_token(client, login, sub, nonce, extra, person)
        now = utcnow()
        refresh: str | None = None
        refresh_row: RefreshToken | None = None
        if client.refresh_tokens_enabled:
            refresh = random_token(32)
            # A new family ends at its absolute maximum; a rotated token never outlives it.
            family_end = (
                aware(family_expires)
                if family_expires
                else now + timedelta(seconds=self.settings.refresh_token_family_lifetime)
            )
            refresh_row = RefreshToken(
                token_hash=sha256_hex(refresh),
                family_id=family_id or uuid.uuid4().hex,
                client_id=client.client_id,
                scope=refresh_scope or requested_scope,
                session_hash=login.id_hash,
                claims_request=claims_request,
                created_at=now,
                expires_at=min(
                    now + timedelta(seconds=self.settings.refresh_token_lifetime), family_end
                ),
                family_expires_at=family_end,
            )
        disclosure = self.disclosure(client, login, "token", disclosed)
        if not await self.repository.record_grant(
            code_hash, refresh_row, disclosure, client.sector, sub, refresh_hash
        ):
            if refresh_hash:
                raise OAuthError("invalid_grant", "The refresh token was revoked.")
            raise OAuthError("invalid_grant", "The code was replayed; nothing is issued.")
        if refresh:
            response["refresh_token"] = refresh
        return response

    async def _id_token(
        self,
        client: Client,
        login: LoginSession,
        sub: str,
        nonce: str,
        extra: dict[str, Any],
        person: dict[str, Any],
    ) -> str:
        now = int(time.time())
        id_claims = {
            "iss": self.issuer,
            "aud": client.client_id,
            "azp": client.client_id,
            "sub": sub,
            "sub_id_type": PSEUDONYM,
            "nonce": nonce,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + min(self.settings.id_token_lifetime, 300),
            "acr": login.acr,
            "auth_time": extra["auth_time"],
            "sid": self.sid(client, login),
            **person,
        }
        return await self.keys.sign(id_claims, client.id_token_signed_response_alg)

    @staticmethod
    def disclosure(
        client: Client, login: LoginSession, channel: str, attributes: list[str]
    ) -> Disclosure:
        return Disclosure(
            person_hash=login.person_hash,
            client_id=client.client_id,
            client_name=client.name,
            channel=channel,
            attributes=attributes,
            acr=login.acr,
            at=utcnow(),
            trace_id=current_trace_id(),
        )
