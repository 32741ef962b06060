"""The portal as an OpenID Connect relying party of identity.

Authorization code flow with PKCE (S256), ``nonce`` and ``state``; the client
authenticates with ``private_key_jwt``; the ID token is validated here (signature from
identity's JWKS, ``iss``, ``aud``, ``azp``, ``exp``, ``nonce``, ``acr``). Browser
redirects use the public URL; back-channel calls go to the gateway's internal URL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from ..config import Settings
from ..sessions.schemas import Person, Tokens, loa_rank

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWKS_SECONDS = 300
ID_TOKEN_ALGORITHMS = ["RS256", "PS256"]


class LoginFailed(Exception):
    """The log-in cannot be completed (bad state, refused, invalid ID token)."""


class TokenExpired(Exception):
    """The refresh token no longer works: the person has to log in again."""


class IdentityUnavailable(Exception):
    """identity (or the gateway in front of it) did not answer."""


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _tokens(body: dict[str, Any], previous: Tokens | None = None) -> Tokens:
    return Tokens(
        access_token=str(body["access_token"]),
        expires_at=time.time() + float(body.get("expires_in", 300)),
        scope=str(body.get("scope", "")).split(),
        refresh_token=body.get("refresh_token") or (previous.refresh_token if previous else None),
        id_token=body.get("id_token") or (previous.id_token if previous else None),
    )


class OidcClient:
    def __init__(
        self,
        settings: Settings,
        key: RSAKey,
        http: httpx.AsyncClient,
        reader_key: RSAKey | None = None,
    ) -> None:
        self.settings = settings
        self.key = key
        self.reader_key = reader_key or key
        self.http = http
        self.issuer = settings.auth_issuer.rstrip("/")
        self.public = settings.public_url.rstrip("/")
        self.backchannel = settings.gateway_url.rstrip("/")
        self._jwks: KeySet | None = None
        self._jwks_at = 0.0
        self._machine: Tokens | None = None
        self._machine_lock = asyncio.Lock()

    # ------------------------------------------------------------------ front channel
    def authorization_url(
        self, state: str, nonce: str, challenge: str, acr: str | None, lang: str
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": self.settings.redirect_uri(),
            "scope": " ".join(self.scopes()),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "ui_locales": lang,
        }
        if acr:
            params["acr_values"] = acr
            # A session at identity below the level is stepped up there.
        return f"{self.public}/auth/authorize?{urlencode(params)}"

    def end_session_url(self, id_token: str | None) -> str:
        params = {
            "client_id": self.settings.client_id,
            "post_logout_redirect_uri": self.settings.post_logout_redirect_uri(),
        }
        if id_token:
            params["id_token_hint"] = id_token
        return f"{self.public}/auth/end-session?{urlencode(params)}"

    def scopes(self) -> list[str]:
        from .keys import PERSON_SCOPES

        return PERSON_SCOPES

    # ------------------------------------------------------------------ back channel
    def _assertion(self, client_id: str) -> str:
        key = self.reader_key if client_id == self.settings.reader_client_id else self.key
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": self.issuer,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 60,
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=["RS256"])

    async def _token_request(self, client_id: str, data: dict[str, str]) -> dict[str, Any]:
        form = {
            **data,
            "client_id": client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self._assertion(client_id),
        }
        try:
            response = await self.http.post(
                f"{self.backchannel}/auth/token", data=form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise IdentityUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500:
            raise IdentityUnavailable(f"HTTP {response.status_code}")
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code != 200:
            raise LoginFailed(str(body.get("error", response.status_code)))
        return body

    async def exchange_code(
        self, code: str, verifier: str, nonce: str, acr: str | None
    ) -> tuple[Person, Tokens]:
        body = await self._token_request(
            self.settings.client_id,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.redirect_uri(),
                "code_verifier": verifier,
            },
        )
        if "id_token" not in body or "access_token" not in body:
            raise LoginFailed("the token response lacks a token")
        claims = await self.validate_id_token(str(body["id_token"]), nonce, acr)
        person = Person(
            sub=str(claims["sub"]),
            name=str(claims.get("name") or ""),
            acr=str(claims.get("acr", "")),
            org_id=claims.get("org_id"),
            org_type=claims.get("org_type"),
            org_name=claims.get("org_name"),
            roles=list(claims.get("roles") or []),
        )
        return person, _tokens(body)

    async def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise TokenExpired("no refresh token")
        try:
            body = await self._token_request(
                self.settings.client_id,
                {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            )
        except LoginFailed as exc:
            raise TokenExpired(str(exc)) from exc
        return _tokens(body, tokens)

    async def machine_token(self) -> str:
        """The portal's own read token for public pages (cached until shortly before expiry)."""
        leeway = self.settings.refresh_leeway_seconds
        if self._machine and self._machine.expires_at - leeway > time.time():
            return self._machine.access_token
        async with self._machine_lock:
            if self._machine and self._machine.expires_at - leeway > time.time():
                return self._machine.access_token
            try:
                body = await self._token_request(
                    self.settings.reader_client_id,
                    {"grant_type": "client_credentials", "scope": self.settings.reader_scope},
                )
            except LoginFailed as exc:
                raise IdentityUnavailable(f"machine token refused: {exc}") from exc
            self._machine = _tokens(body)
            return self._machine.access_token

    # ------------------------------------------------------------------ ID token
    async def _keys(self, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh or time.monotonic() - self._jwks_at > JWKS_SECONDS:
            try:
                response = await self.http.get(f"{self.backchannel}/auth/jwks")
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise IdentityUnavailable(type(exc).__name__) from exc
            self._jwks = KeySet.import_key_set(response.json())
            self._jwks_at = time.monotonic()
        return self._jwks

    async def validate_id_token(self, id_token: str, nonce: str, acr: str | None) -> dict[str, Any]:
        keys = await self._keys()
        try:
            try:
                token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            except (ValueError, JoseError):
                # An unknown kid after identity rotated its keys: fetch them once more.
                token = jwt.decode(
                    id_token, await self._keys(refresh=True), algorithms=ID_TOKEN_ALGORITHMS
                )
            JWTClaimsRegistry(
                leeway=30,
                iss={"essential": True, "value": self.issuer},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
                acr={"essential": True},
            ).validate(token.claims)
        except (ValueError, JoseError) as exc:
            raise LoginFailed(f"invalid ID token: {type(exc).__name__}") from exc
        claims = dict(token.claims)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.settings.client_id not in audiences:
            raise LoginFailed("invalid ID token: aud")
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise LoginFailed("invalid ID token: azp")
        if acr and loa_rank(str(claims["acr"])) < loa_rank(acr):
            raise LoginFailed("the log-in did not reach the required level")
        return claims
