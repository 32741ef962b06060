"""Request Objects (OIDC Core §6, RFC 9101): the authorization parameters in a JWT signed
with the client's registered key, optionally encrypted to identity's key (JWE). Only the
parameters inside the object count. Passed by value (``request``) or by reference: a
``request_uri`` the client registered, or one this OP issued at ``/auth/par``."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry, decrypt_compact
from joserfc.jws import JWSRegistry, extract_compact, validate_compact

from ..clients.authentication import ClientAuthenticator
from ..clients.models import Client
from ..keys.service import KeyStore
from ..oauth.errors import OAuthError

SIGNING_ALGS = ["RS256", "PS256", "ES256"]
ENCRYPTION_ALGS = ["RSA-OAEP-256"]
ENCRYPTION_ENCS = ["A256GCM", "A128GCM"]
PUSHED_PREFIX = "urn:ietf:params:oauth:request_uri:"
LEEWAY = 30
# A request object may be prepared ahead, but not be valid for longer than this.
MAX_LIFETIME = 3600
MAX_BYTES = 64 * 1024
_SIGNING = JWSRegistry(algorithms=SIGNING_ALGS)
_ENCRYPTION = JWERegistry(algorithms=[*ENCRYPTION_ALGS, *ENCRYPTION_ENCS])


def invalid(description: str) -> OAuthError:
    return OAuthError("invalid_request_object", description)


def as_parameters(claims: dict[str, Any]) -> dict[str, str]:
    """A request object's claims as authorization parameters (JSON members as text)."""
    out: dict[str, str] = {}
    for name, value in claims.items():
        if name in ("iss", "aud", "exp", "iat", "nbf", "jti"):
            continue
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, bool) or value is None:
            raise invalid(f"{name} has an unsupported value.")
        elif isinstance(value, int):
            out[name] = str(value)
        else:
            out[name] = json.dumps(value)
    return out


class RequestObjects:
    def __init__(self, issuer: str, keys: KeyStore, authenticator: ClientAuthenticator) -> None:
        self.issuer = issuer
        self.keys = keys
        self.authenticator = authenticator

    async def parameters(self, q: dict[str, str], client: Client) -> dict[str, str]:
        """The parameters that count for a request with ``request`` or a registered
        ``request_uri``: the object's, with ``client_id`` (which must agree)."""
        if "request" in q and "request_uri" in q:
            raise OAuthError("invalid_request", "Use request or request_uri, not both.")
        if "request_uri" in q:
            token = await self._fetch(q["request_uri"], client)
        else:
            token = q["request"]
        params = as_parameters(await self.claims(token, client))
        if params.setdefault("client_id", client.client_id) != client.client_id:
            raise invalid("The request object names another client.")
        for name in ("response_type",):
            if name in q and name in params and q[name] != params[name]:
                raise invalid(f"{name} differs between the request and its object.")
        return params

    async def claims(self, token: str, client: Client) -> dict[str, Any]:
        """The verified claims of a request object (decrypted first when it is a JWE)."""
        token = token.strip()
        if token.count(".") == 4:
            token = await self._decrypt(token)
        try:
            unverified = extract_compact(token.encode("ascii"), registry=_SIGNING)
            claims = json.loads(unverified.payload)
        except (JoseError, ValueError, UnicodeError):
            raise invalid("The request object is not a signed JWT.") from None
        if unverified.protected.get("alg") not in SIGNING_ALGS:
            raise invalid(f"Request objects must be signed with one of {SIGNING_ALGS}.")
        if not client.jwks and not client.jwks_uri:
            raise invalid("The client has no registered keys to verify request objects.")
        try:
            keys = await self.authenticator.client_keys(client)
            valid = validate_compact(unverified, keys, registry=_SIGNING)
        except (JoseError, ValueError):
            valid = False
        if not valid or not isinstance(claims, dict):
            raise invalid("The request object's signature is invalid.")
        self._check(claims, client)
        return claims

    def _check(self, c: dict[str, Any], client: Client) -> None:
        now = int(time.time())
        if c.get("iss") != client.client_id:
            raise invalid("The request object's iss must be the client_id.")
        aud = c.get("aud")
        auds = [aud] if isinstance(aud, str) else list(aud or [])
        if self.issuer not in auds:
            raise invalid("The request object's aud must be the issuer.")
        exp = c.get("exp")
        if not isinstance(exp, int) or exp < now - LEEWAY:
            raise invalid("The request object has expired (or has no exp).")
        if exp > now + MAX_LIFETIME + LEEWAY:
            raise invalid("The request object lives too long (at most one hour).")
        nbf = c.get("nbf")
        if isinstance(nbf, int) and nbf > now + LEEWAY:
            raise invalid("The request object is not valid yet.")
        for name in ("request", "request_uri"):
            if name in c:
                raise invalid(f"A request object must not contain {name}.")

    async def _decrypt(self, token: str) -> str:
        for key in await self.keys.decryption_keys():
            try:
                plaintext = decrypt_compact(token, key, registry=_ENCRYPTION).plaintext
            except (JoseError, ValueError):
                continue
            if plaintext is not None:
                return plaintext.decode("ascii", errors="replace")
        raise invalid("The request object cannot be decrypted with the OP's keys.")

    async def _fetch(self, uri: str, client: Client) -> str:
        if uri not in client.request_uris:
            raise OAuthError("invalid_request_uri", "This request_uri is not registered.")
        try:
            response = await self.authenticator.http.get(uri, timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError:
            raise OAuthError("invalid_request_uri", "The request_uri could not be read.") from None
        if len(response.content) > MAX_BYTES:
            raise OAuthError("invalid_request_uri", "The request object is too large.")
        return response.text
