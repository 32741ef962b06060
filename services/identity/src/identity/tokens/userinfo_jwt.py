"""Signed and encrypted UserInfo responses (OIDC Core §5.3.2) for clients registered with
``userinfo_signed_response_alg`` and optionally ``userinfo_encrypted_response_alg/enc``:
a JWT signed with the OP's key, then (when asked) a JWE to the client's encryption key."""

from __future__ import annotations

import json
import time
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry, encrypt_compact
from joserfc.jwk import KeySet, RSAKey

from ..clients.authentication import ClientAuthenticator
from ..clients.models import Client
from ..keys.service import KeyStore
from ..oauth.errors import OAuthError

SIGNING_ALGS = ["RS256", "PS256"]
ENCRYPTION_ALGS = ["RSA-OAEP-256"]
ENCRYPTION_ENCS = ["A256GCM", "A128GCM"]
_ENCRYPTION = JWERegistry(algorithms=[*ENCRYPTION_ALGS, *ENCRYPTION_ENCS])


def wants_jwt(client: Client) -> bool:
    return bool(client.userinfo_signed_response_alg or client.userinfo_encrypted_response_alg)


def encryption_key(keys: KeySet) -> RSAKey | None:
    """The client's RSA key for encryption: one marked ``use: enc``, else one unmarked."""
    candidates = [k for k in keys.keys if isinstance(k, RSAKey)]
    for wanted in ("enc", None):
        for key in candidates:
            if key.get("use") == wanted:
                return key
    return None


class UserinfoJwt:
    def __init__(self, issuer: str, keys: KeyStore, authenticator: ClientAuthenticator) -> None:
        self.issuer = issuer
        self.keys = keys
        self.authenticator = authenticator

    async def encode(self, client: Client, claims: dict[str, Any]) -> str:
        """The answer as ``application/jwt``: signed, then encrypted if registered so."""
        body: str
        if client.userinfo_signed_response_alg:
            now = int(time.time())
            signed = {**claims, "iss": self.issuer, "aud": client.client_id, "iat": now}
            body = await self.keys.sign(signed, client.userinfo_signed_response_alg)
        else:
            body = json.dumps(claims)
        if not client.userinfo_encrypted_response_alg:
            return body
        keys = await self.authenticator.client_keys(client)
        key = encryption_key(keys)
        if key is None:
            raise OAuthError("invalid_client", "The client has no RSA key to encrypt to.", 400)
        header = {
            "alg": client.userinfo_encrypted_response_alg,
            "enc": client.userinfo_encrypted_response_enc or "A256GCM",
        }
        if client.userinfo_signed_response_alg:
            header["cty"] = "JWT"
        if key.kid:
            header["kid"] = key.kid
        try:
            return encrypt_compact(header, body.encode(), key, registry=_ENCRYPTION)
        except (JoseError, ValueError) as exc:
            raise OAuthError("server_error", f"UserInfo encryption failed: {exc}") from None
