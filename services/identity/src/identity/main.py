"""Samen Identity API: application factory."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI

from servicekit.app import create_service_app
from servicekit.auth import TokenVerifier
from servicekit.db import Database, is_sqlite
from servicekit.jwks import JwksCache
from servicekit.revocations import RevocationFeed

from . import API_VERSION
from .broker.connectors import OidcConnector, SimulatorConnector
from .broker.means import MEANS
from .broker.router import router as broker_router
from .clients.router import router as clients_router
from .clients.service import registered_origins
from .config import Settings, get_settings
from .context import Identity
from .db import idempotency_keys
from .disclosures.router import router as disclosures_router
from .oauth.cors import OpCors, RegisteredOrigins
from .oauth.pushed import router as pushed_router
from .oauth.router import router as oauth_router
from .registration.router import admin_router as initial_tokens_router
from .registration.router import router as registration_router
from .simulators.idp import SimulatorIdP
from .simulators.router import router as simulators_router
from .tokens.push import RevocationPublisher

SERVICE = "identity"
DESCRIPTION = (
    "OpenID Provider and authentication broker for citizens, companies and civil servants."
)
# A worker serves many concurrent requests that each hold a connection only for short
# transactions. The pool keeps as many connections as the usual concurrency: overflow
# connections are closed on return, and opening one (connect, type introspection,
# statements prepared again) costs more than the queries it then runs.
POSTGRES_POOL = {"pool_size": 32, "max_overflow": 16}
MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded", "application/*+json")
TAGS = [
    {
        "name": "clients",
        "description": "Client (relying party) registry, for platform administrators",
    },
    {"name": "disclosures", "description": "Which attributes of mine went to which client"},
]


def create_app(
    settings: Settings | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    **overrides: Any,
) -> FastAPI:
    settings = settings or get_settings()
    settings.check_production()
    url = settings.database_url_of(SERVICE)
    database = overrides.pop("database", None) or Database(
        url, **({} if is_sqlite(url) else settings.pool_options(**POSTGRES_POOL))
    )
    identity = Identity(settings, database)
    idp = SimulatorIdP(identity) if settings.simulators_enabled else None
    for means in MEANS:
        if means in settings.upstreams:
            identity.connectors[means] = OidcConnector(
                means, settings.upstreams[means], transport=upstream_transport
            )
        elif idp is not None:
            identity.connectors[means] = SimulatorConnector(means, idp)

    # The REST API verifies our own access tokens against our own keys (no loopback HTTP),
    # and refuses revoked ones from the list the resource servers read.
    async def revoked(since: str | None) -> dict[str, Any]:
        return await identity.access.revoked_since(float(since) if since else None)

    verifier = overrides.pop("token_verifier", None) or TokenVerifier(
        JwksCache(identity.keys.jwks, max_age=30.0, min_refresh_interval=1.0),
        issuer=identity.issuer,
        audience="samen",
        algorithms=["RS256", "PS256"],
        leeway=settings.auth_leeway_seconds,
        revocations=RevocationFeed(revoked, settings.auth_revocations_interval_seconds),
    )

    publisher = (
        RevocationPublisher(
            settings.redis_url,
            identity.access.revoked_since,
            settings.revocation_push_interval_seconds,
        )
        if settings.redis_url and settings.auth_revocations_push
        else None
    )

    async def start(app: FastAPI) -> None:
        if publisher is not None:
            publisher.start()
        await identity.keys.ensure()
        try:
            await identity.keys.load(force=True)
        except ValueError as exc:
            # Refuse to serve rather than fail on every token: the stored keys were sealed
            # with another IDENTITY_KEY_ENCRYPTION_KEY.
            raise RuntimeError(
                "The signing keys cannot be decrypted with IDENTITY_KEY_ENCRYPTION_KEY."
            ) from exc

    async def stop(app: FastAPI) -> None:
        if publisher is not None:
            await publisher.aclose()
        await identity.aclose()

    app = create_service_app(
        service=SERVICE,
        title="Samen Identity API",
        version=API_VERSION,
        description=DESCRIPTION,
        settings=settings,
        routers=[
            oauth_router,
            broker_router,
            simulators_router,
            clients_router,
            disclosures_router,
            pushed_router,
            registration_router,
            initial_tokens_router,
        ],
        migrations_package="identity.migrations",
        tags=TAGS,
        media_types=MEDIA_TYPES,
        database=database,
        idempotency_keys=idempotency_keys,
        token_verifier=verifier,
        on_startup=[start],
        on_shutdown=[stop],
        **overrides,
    )
    # CORS on the endpoints browsers call, for the registered clients' origins only.
    app.add_middleware(
        OpCors,
        origins=RegisteredOrigins(
            partial(registered_origins, database), settings.client_cache_seconds
        ),
    )
    app.state.identity = identity
    app.state.simulators = idp
    app.state.revocation_publisher = publisher
    return app
