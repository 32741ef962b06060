"""The identity service's parts, wired once per process (``app.state.identity``)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from servicekit.db import Database
from servicekit.egress import PublicOnlyTransport

from .authorization.repository import AuthorizationRepository
from .authorization.request_objects import RequestObjects
from .authorization.service import AuthorizationService
from .broker.means import MEANS, MeansInfo
from .clients.authentication import ClientAuthenticator
from .clients.one_time_ids import OneTimeIds
from .clients.service import ClientCache
from .config import Settings
from .keys.service import KeyStore
from .sessions.repository import SessionRepository
from .sessions.service import SessionService
from .tokens.access import AccessTokens
from .tokens.claims import Claims
from .tokens.repository import TokenRepository
from .tokens.service import TokenService
from .tokens.userinfo_jwt import UserinfoJwt


class Identity:
    def __init__(
        self, settings: Settings, database: Database, http: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self.issuer = settings.issuer.rstrip("/")
        # In production only native apps may register loopback (http) redirect URIs.
        self.production = settings.environment == "production"
        self.database = database
        self.keys = KeyStore(
            database.sessionmaker, settings.key_encryption_keys, settings.key_retention_seconds
        )
        self.clients = ClientCache(database, settings.client_cache_seconds)
        # Fetches URIs that clients registered (jwks_uri, request_uri): public addresses
        # only, whatever their host names resolve to.
        self.http = http or httpx.AsyncClient(timeout=5.0, transport=PublicOnlyTransport())
        self.one_time_ids = OneTimeIds(database)
        self.client_auth = ClientAuthenticator(
            self.clients,
            self.one_time_ids,
            self.http,
            self.issuer,
            settings,
        )
        self.sessions = SessionService(settings, SessionRepository(database))
        self.authorization = AuthorizationService(
            settings,
            self.issuer,
            AuthorizationRepository(database),
            self.clients,
            self.sessions,
            RequestObjects(self.issuer, self.keys, self.client_auth, self.one_time_ids),
            self.one_time_ids,
        )
        self.userinfo_jwt = UserinfoJwt(self.issuer, self.keys, self.client_auth)
        self.claims = Claims(settings)
        tokens = TokenRepository(database)
        self.tokens = TokenService(
            settings, self.issuer, tokens, self.keys, self.claims, self.sessions, self.authorization
        )
        self.access = AccessTokens(
            self.issuer,
            tokens,
            self.keys,
            self.clients,
            self.claims,
            self.sessions,
            self.tokens.family_revocation,
        )
        # Upstream means by name: a simulator or a configured OIDC upstream (main.py).
        self.connectors: dict[str, Any] = {}

    def url(self, path: str) -> str:
        return self.issuer + path

    def offered_means(self, required: str) -> tuple[list[MeansInfo], list[MeansInfo]]:
        """(means that reach the level, means that do not), among those configured."""
        offered: list[MeansInfo] = []
        unavailable: list[MeansInfo] = []
        for name in self.connectors:
            info = MEANS[name]
            (offered if info.reaches(required) else unavailable).append(info)
        return offered, unavailable

    async def aclose(self) -> None:
        await self.one_time_ids.aclose()
        await self.client_auth.aclose()
        await self.http.aclose()


def identity_of(request: Request) -> Identity:
    """The parts main.py wired for the app answering ``request``."""
    found: Identity = request.app.state.identity
    return found
