"""The portal's client key pair and its registrations at identity.

In development the key is generated once into the data folder; in production it comes
from a mounted secret (``PORTAL_CLIENT_PRIVATE_KEY_JWK`` or ``PORTAL_CLIENT_KEY_FILE``)
and the printed registrations go to ``python -m identity register-client``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, RSAKey

from ..config import Settings

LOA_LOW = "http://eidas.europa.eu/LoA/low"
# Every scope a person may be eligible for; identity grants the intersection with what
# the person's means and machtigingen allow.
PERSON_SCOPES = [
    "openid",
    "profile",
    "registry:read",
    "registry:write",
    "registry:exposure",
    "registry:contracts",
    "procurement:read",
    "procurement:enroll",
    "procurement:manage",
    "identity:admin",
]


class KeyMissing(RuntimeError):
    pass


def load_key(settings: Settings) -> RSAKey:
    raw = settings.client_private_key_jwk
    if not raw:
        path = Path(settings.client_key_file)
        if not path.exists():
            raise KeyMissing(
                f"no client key: set PORTAL_CLIENT_PRIVATE_KEY_JWK or create {path} "
                "(python -m portal seed, development only)"
            )
        raw = path.read_text(encoding="utf-8")
    key = RSAKey.import_key(json.loads(raw))
    if not key.is_private:
        raise KeyMissing("the portal's client key must be a private key")
    return key


def load_reader_key(settings: Settings) -> RSAKey:
    if not settings.reader_private_key_jwk:
        return load_key(settings)
    key = RSAKey.import_key(json.loads(settings.reader_private_key_jwk))
    if not key.is_private:
        raise KeyMissing("the reader's client key must be a private key")
    return key


def ensure_development_key(settings: Settings) -> bool:
    """Create the key file when missing (development only); True when created."""
    path = Path(settings.client_key_file)
    if settings.client_private_key_jwk or path.exists():
        return False
    if settings.environment == "production":
        raise KeyMissing("production needs a mounted key (PORTAL_CLIENT_PRIVATE_KEY_JWK)")
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written with owner-only permissions: it is the portal's credential.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(key.as_dict(private=True), out)
    return True


def registrations(settings: Settings) -> list[dict[str, Any]]:
    """The two registrations, as ``POST /v1/clients`` and ``register-client`` take them."""
    public = KeySet([load_key(settings)]).as_dict(private=False)
    reader = KeySet([load_reader_key(settings)]).as_dict(private=False)
    base = settings.public_url.rstrip("/")
    return [
        {
            "clientId": settings.client_id,
            "name": "Samen portal",
            "grantType": "authorization_code",
            "tokenEndpointAuthMethod": "private_key_jwt",
            "jwks": public,
            "redirectUris": [settings.redirect_uri()],
            "postLogoutRedirectUris": [settings.post_logout_redirect_uri(), f"{base}/"],
            "allowedScopes": PERSON_SCOPES,
            "minimumLoa": LOA_LOW,
            "sector": "samen-platform",
            "refreshTokens": True,
        },
        {
            "clientId": settings.reader_client_id,
            "name": "Samen portal (public pages)",
            "grantType": "client_credentials",
            "tokenEndpointAuthMethod": "private_key_jwt",
            "jwks": reader,
            "allowedScopes": settings.reader_scope.split(),
        },
    ]
