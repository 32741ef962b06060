"""Request Objects (OIDC Core §6, RFC 9101): the authorization parameters in a JWT signed
with the client's registered key, optionally encrypted to identity's key (JWE). Only the
parameters inside the object count. Passed by value (``request``) or by reference: a
``request_uri`` the client registered, or one this OP issued at ``/auth/par``.

A request object is used once: its ``jti`` (with its ``exp``) is recorded in the one-time
ids every worker shares (a unique constraint decides between concurrent uses), and a
second use is refused with ``invalid_request_object``. An object passed by value without a
``jti`` is recorded by the hash of its claims instead (the same claims are the same
request, signed or signed and encrypted); a
client-hosted ``request_uri`` document without a ``jti`` may be a static one the client
reuses (OIDC Core §6.2), bounded by its ``exp``."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry, decrypt_compact
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry, extract_compact, validate_compact

from ..clients.authentication import ClientAuthenticator
from ..clients.models import Client
from ..clients.one_time_ids import OneTimeIds
from ..clients.redirect_uris import fetched_uri_problem
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


@dataclass(eq=False)
class RequestObjects:
    issuer: str
    keys: KeyStore
    authenticator: ClientAuthenticator
    one_time_ids: OneTimeIds

    async def parameters(self, q: dict[str, str], client: Client) -> dict[str, str]:
        """The parameters that count for a request with ``request`` or a registered
        ``request_uri``: the object's, with ``client_id`` (which must agree)."""
        if "request" in q and "request_uri" in q:
            raise OAuthError("invalid_request", "Use request or request_uri, not both.")
        if "request_uri" in q:
            token = await self._fetch(q["request_uri"], client)
        else:
            token = q["request"]
        claims = await self.claims(token, client)
        params = as_parameters(claims)
        if params.setdefault("client_id", client.client_id) != client.client_id:
            raise invalid("The request object names another client.")
        for name in ("response_type",):
            if name in q and name in params and q[name] != params[name]:
                raise invalid(f"{name} differs between the request and its object.")
        await self._use_once(claims, client, by_value="request_uri" not in q)
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

    async def _use_once(self, claims: dict[str, Any], client: Client, by_value: bool) -> None:
        """Record the object's ``jti`` (by value without one: the hash of its claims) until
        its expiry; refuse one seen before."""
        jti = claims.get("jti")
        if jti is None and by_value:
            canonical = json.dumps(claims, sort_keys=True, separators=(",", ":"))
            jti = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
        if jti is None:
            return
        until = int(claims["exp"]) + LEEWAY
        try:
            await self.one_time_ids.remember("request_object", client.client_id, jti, until)
        except OAuthError:
            raise invalid("This request object was already used.") from None

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
        jti = c.get("jti")
        if jti is not None and (
            not isinstance(jti, str) or not 1 <= len(jti) <= 200 or not jti.isprintable()
        ):
            raise invalid("The request object's jti must be a short printable string.")

    async def _decrypt(self, token: str) -> str:
        """Decrypted with the key the JWE names (``kid``), else with each published one:
        the active key and those retired by a rotation but still published. A key this
        process has not loaded yet (rotated by another one) is found by one reload."""
        try:
            header = jwe.extract_compact(token.encode("ascii"), _ENCRYPTION).protected
        except (JoseError, ValueError, UnicodeError):
            raise invalid("The request object is not a valid JWE.") from None
        kid = header.get("kid")
        keys = await self.keys.decryption_keys(kid if isinstance(kid, str) else None)
        plaintext = _open(token, keys)
        if plaintext is None:
            newer = await self.keys.newer_decryption_keys(keys)
            if isinstance(kid, str):
                newer = [k for k in newer if k.kid == kid]
            plaintext = _open(token, newer)
        if plaintext is None:
            raise invalid("The request object cannot be decrypted with the OP's keys.")
        return plaintext

    async def _fetch(self, uri: str, client: Client) -> str:
        if uri not in client.request_uris:
            raise OAuthError("invalid_request_uri", "This request_uri is not registered.")
        if fetched_uri_problem(uri.split("#", 1)[0]):
            # Registered before the rule (or written around it): never fetched.
            raise OAuthError(
                "invalid_request_uri", "This request_uri is not https to a public host."
            )
        try:
            document = await self.authenticator.fetch(uri, MAX_BYTES)
        except httpx.HTTPError:
            raise OAuthError("invalid_request_uri", "The request_uri could not be read.") from None
        except ValueError:
            raise OAuthError("invalid_request_uri", "The request object is too large.") from None
        try:
            return document.decode()
        except UnicodeDecodeError:
            raise OAuthError("invalid_request_uri", "The request object is not UTF-8.") from None


def _open(token: str, keys: list[RSAKey]) -> str | None:
    for key in keys:
        try:
            plaintext = decrypt_compact(token, key, registry=_ENCRYPTION).plaintext
        except (JoseError, ValueError):
            continue
        if plaintext is not None:
            return plaintext.decode("ascii", errors="replace")
    return None
