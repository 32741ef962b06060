"""Demo clients for development (`python -m identity seed`), documented in the README of
the identity service. Idempotent: existing client ids are left alone."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlmodel import col

from servicekit.actor import Actor
from servicekit.auth import LOA_LOW, LOA_SUBSTANTIAL
from servicekit.db import Database

from .clients.models import Client
from .clients.redirect_uris import redirect_uri_problem
from .clients.schemas import ClientIn
from .clients.service import create_client
from .config import Settings
from .keys.service import KeyStore

OPERATOR_OIN = "00000001009876543000"
UTRECHT_OIN = "00000001001234567000"


def demo_key() -> RSAKey:
    raw = json.loads(resources.files("identity.dev").joinpath("demo-rp-key.json").read_text())
    return RSAKey.import_key(raw["key"])


def demo_jwks() -> dict[str, Any]:
    return dict(KeySet([demo_key()]).as_dict(private=False))


def portal_redirect_uris(public_url: str = "") -> list[str]:
    """Where the gateway's developer portal receives its log-in: the usual development
    addresses, and the gateway's configured public URL (``IDENTITY_PUBLIC_URL``) when it
    is another one, such as a gateway on another port."""
    # A loopback IP literal matches any port (RFC 8252 §7.3); localhost is never registered.
    uris = [
        "http://127.0.0.1:8000/docs/oauth2-redirect",
        "http://127.0.0.1:8000/docs/oauth2-redirect.html",
    ]
    base = public_url.rstrip("/")
    if base.startswith(("http://", "https://")):
        for uri in (f"{base}/docs/oauth2-redirect", f"{base}/docs/oauth2-redirect.html"):
            if uri not in uris and redirect_uri_problem(uri, False, native=True) is None:
                uris.append(uri)
    return uris


def resource_server(client_id: str, name: str, scopes: list[str]) -> tuple[ClientIn, str | None]:
    """A service of the platform that verifies tokens (audience ``samen``, the revocation
    feed) and calls other services with ``scopes``; its development secret."""
    client = ClientIn(
        client_id=client_id,
        name=name,
        grant_type="client_credentials",
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106
        allowed_scopes=scopes,
        resource_audiences=["samen"],
    )
    return client, f"{client_id}-dev-secret"


def demo_clients(public_url: str = "") -> list[tuple[ClientIn, str | None]]:
    """(registration, fixed development secret or None)."""
    api_scopes = [
        "registry:read",
        "registry:write",
        "registry:exposure",
        "registry:contracts",
        "procurement:read",
        "procurement:enroll",
        "procurement:manage",
    ]
    return [
        (
            ClientIn(
                client_id="samen-admin",
                name="Samen platform administration (development)",
                grant_type="client_credentials",
                token_endpoint_auth_method="client_secret_basic",  # noqa: S106
                allowed_scopes=["identity:admin", *api_scopes],
                org_id=OPERATOR_OIN,
                org_type="operator",
                roles=["platform-admin"],
            ),
            "samen-admin-dev-secret",
        ),
        resource_server(
            "samen-registry", "Samen registry service", ["registry:read", "procurement:read"]
        ),
        # Decisions ahead and proposed start dates come from contract details.
        resource_server(
            "samen-procurement",
            "Samen procurement service",
            ["registry:read", "registry:contracts"],
        ),
        # The gateway verifies tokens too: it reads the revocation feed, nothing else.
        resource_server("samen-gateway", "Samen gateway", []),
        (
            ClientIn(
                client_id="samen-gateway-docs",
                name="Samen API documentation portal",
                grant_type="authorization_code",
                token_endpoint_auth_method="none",  # noqa: S106
                redirect_uris=portal_redirect_uris(public_url),
                post_logout_redirect_uris=["http://127.0.0.1:8000/docs"],
                allowed_scopes=["openid", "profile", "identity:admin", *api_scopes],
                minimum_loa=LOA_LOW,
                sector="samen-platform",
            ),
            None,
        ),
        (
            ClientIn(
                client_id="demo-gemeente",
                name="Demo: Mijn Gemeente (development)",
                grant_type="authorization_code",
                token_endpoint_auth_method="client_secret_basic",  # noqa: S106
                redirect_uris=["http://127.0.0.1:8080/callback"],
                post_logout_redirect_uris=["http://127.0.0.1:8080/"],
                allowed_scopes=[
                    "openid",
                    "profile",
                    "bsn",
                    "registry:read",
                    "procurement:read",
                    "procurement:enroll",
                ],
                minimum_loa=LOA_SUBSTANTIAL,
                sector="gemeente-demo",
                bsn_legal_basis="Fictitious demo basis (development only)",
                refresh_tokens=True,
            ),
            "demo-gemeente-dev-secret",
        ),
        (
            ClientIn(
                client_id="demo-gemeente-pkjwt",
                name="Demo: Mijn Gemeente with private_key_jwt (development)",
                grant_type="authorization_code",
                token_endpoint_auth_method="private_key_jwt",  # noqa: S106
                jwks=demo_jwks(),
                redirect_uris=["http://127.0.0.1:8080/callback"],
                post_logout_redirect_uris=["http://127.0.0.1:8080/"],
                allowed_scopes=[
                    "openid",
                    "profile",
                    "registry:read",
                    "procurement:read",
                    "procurement:enroll",
                ],
                minimum_loa=LOA_SUBSTANTIAL,
                sector="gemeente-demo",
                refresh_tokens=True,
            ),
            None,
        ),
        (
            ClientIn(
                client_id="demo-system",
                name="Demo: Gemeente Utrecht system (private_key_jwt)",
                grant_type="client_credentials",
                token_endpoint_auth_method="private_key_jwt",  # noqa: S106
                jwks=demo_jwks(),
                allowed_scopes=[
                    "registry:read",
                    "registry:write",
                    "registry:exposure",
                    "procurement:read",
                ],
                org_id=UTRECHT_OIN,
                org_type="municipality",
                roles=["registry-editor"],
            ),
            None,
        ),
    ]


async def seed(settings: Settings, database: Database | None = None) -> list[str]:
    """Create signing keys and the demo clients that are missing; returns created ids."""
    own = database is None
    database = database or Database(settings.database_url_of("identity"))
    try:
        await KeyStore(
            database.sessionmaker, settings.key_encryption_key, settings.key_retention_seconds
        ).ensure()
        created = []
        for data, secret in demo_clients(settings.public_url):
            if (
                data.token_endpoint_auth_method == "client_secret_basic"  # noqa: S105
                and not settings.allow_client_secret_basic
            ):
                continue
            async with database.sessionmaker() as session:
                exists = (
                    await session.execute(
                        select(col(Client.id)).where(col(Client.client_id) == data.client_id)
                    )
                ).first()
            if exists:
                continue
            async with database.sessionmaker() as session:
                await create_client(session, data, Actor("seed"), secret=secret)
            created.append(data.client_id)
        return created
    finally:
        if own:
            await database.dispose()
