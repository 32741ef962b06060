"""Client authentication at the token, introspection and revocation endpoints.

``private_key_jwt`` (RFC 7523 §2.2, NL GOV): the assertion is signed with a key from the
client's registered JWKS (inline or by URI), ``iss`` = ``sub`` = client_id, ``aud`` is
the token endpoint or the issuer, it expires within five minutes and its ``jti`` is
never accepted twice. ``client_secret_basic`` only when the development setting allows
it. Public clients (``none``) only identify themselves, with PKCE protecting the code.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Awaitable
from typing import Any
from urllib.parse import unquote

import httpx
from cachetools import LRUCache, TTLCache
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry, extract_compact, validate_compact

from ..config import Settings
from ..oauth.errors import OAuthError
from .auth_limits import FailedAuthLimiter, TooManyFailures
from .models import Client
from .one_time_ids import DONE, OneTimeIds
from .redirect_uris import fetched_uri_problem
from .service import ClientCache, secret_matches

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["RS256", "PS256", "ES256"]
_ASSERTION_REGISTRY = JWSRegistry(algorithms=ASSERTION_ALGS)
# authlib and other common clients default to one hour; longer is refused so the
# replay store stays bounded.
MAX_ASSERTION_LIFETIME = 3600
LEEWAY = 30
MAX_JWKS_BYTES = 65_536


class ClientAuthenticator:
    def __init__(
        self,
        clients: ClientCache,
        one_time_ids: OneTimeIds,
        http: httpx.AsyncClient,
        issuer: str,
        settings: Settings,
        limiter: FailedAuthLimiter | None = None,
    ) -> None:
        self.clients = clients
        self.limiter = limiter or FailedAuthLimiter(
            settings.client_auth_failure_limit,
            settings.client_auth_failure_window_seconds,
            settings.redis_url,
        )
        self.one_time_ids = one_time_ids
        self.http = http
        self.issuer = issuer
        self.settings = settings
        self._jwks_uri_cache: TTLCache[str, KeySet] = TTLCache(1000, 300, time.monotonic)
        self._parsed: LRUCache[str, KeySet] = LRUCache(1000)

    async def aclose(self) -> None:
        await self.limiter.aclose()

    async def _limited(self, client_id: str) -> None:
        """429 while this client id has failed too often (clients/auth_limits.py)."""
        try:
            await self.limiter.check(client_id)
        except TooManyFailures as exc:
            raise OAuthError(
                "invalid_client",
                "Too many failed authentications of this client; try again later.",
                429,
                {"Retry-After": str(exc.retry_after)},
            ) from None

    async def authenticate(
        self, form: dict[str, str], authorization: str | None, endpoint_url: str
    ) -> Client:
        """The authenticated client, or ``invalid_client`` (401)."""
        client, confirm = await self.authenticate_pending(form, authorization, endpoint_url)
        await confirm
        return client

    async def authenticate_pending(
        self, form: dict[str, str], authorization: str | None, endpoint_url: str
    ) -> tuple[Client, Awaitable[None]]:
        """Like :meth:`authenticate`, but a ``private_key_jwt`` assertion's one-time id is
        only *sent* to be recorded: the client is returned with an awaitable that
        confirms it (or raises ``invalid_client`` for a replay). The caller must await it
        before anything it computed meanwhile leaves the process, and may do only work
        without side effects before (the client_credentials grant signs its token while
        the id's round trip is under way). Every other check is done already."""
        if authorization and authorization.lower().startswith("basic "):
            if "client_assertion" in form:
                raise OAuthError("invalid_request", "Use one client authentication method only.")
            basic = await self._basic(authorization)
            if form.get("client_id") and form["client_id"] != basic.client_id:
                raise OAuthError("invalid_client", "client_id names another client.")
            return basic, DONE
        if form.get("client_assertion_type") or form.get("client_assertion"):
            return await self._private_key_jwt(form, endpoint_url)
        if "client_secret" in form:
            raise OAuthError("invalid_client", "client_secret_post is not supported.")
        client_id = form.get("client_id")
        if client_id:
            client = await self.clients.get(client_id)
            if client is not None and client.token_endpoint_auth_method == "none":  # noqa: S105
                return client, DONE
        raise OAuthError("invalid_client", "Client authentication failed.")

    async def _basic(self, authorization: str) -> Client:
        try:
            raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            client_id, _, secret = raw.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.") from None
        await self._limited(client_id)
        client = await self.clients.get(client_id)
        if not self.settings.allow_client_secret_basic:
            raise OAuthError("invalid_client", "client_secret_basic is disabled here.")
        if (
            client is None
            or client.token_endpoint_auth_method != "client_secret_basic"  # noqa: S105
            or not secret_matches(client, secret)
        ):
            await self.limiter.failed(client_id)
            raise OAuthError("invalid_client", "Client authentication failed.")
        return client

    async def client_keys(self, client: Client) -> KeySet:
        """The client's registered public keys (inline, or from its jwks_uri)."""
        if client.jwks:
            # Parsed key sets by content: a JWK Set's parse is fixed by its JSON, so an
            # entry can never be stale — a changed registration has other content (and
            # the client row itself is re-read after the client cache's few seconds).
            text = json.dumps(client.jwks, sort_keys=True, separators=(",", ":"))
            keys = self._parsed.get(text)
            if keys is None:
                keys = KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
                self._parsed[text] = keys
            return keys
        uri = client.jwks_uri
        if not uri:
            raise OAuthError("invalid_client", "The client has no registered keys.")
        if fetched_uri_problem(uri):
            # Registered before the rule (or written around it): never fetched.
            raise OAuthError(
                "invalid_client", "The client's jwks_uri is not https to a public host."
            )
        hit = self._jwks_uri_cache.get(uri)
        if hit is not None:
            return hit
        try:
            keys = KeySet.import_key_set(json.loads(await self.fetch(uri, MAX_JWKS_BYTES)))
        except (httpx.HTTPError, ValueError, TypeError, KeyError, JoseError):
            raise OAuthError("invalid_client", "The client's jwks_uri could not be read.") from None
        self._jwks_uri_cache[uri] = keys
        return keys

    async def fetch(self, uri: str, limit: int) -> bytes:
        """The document at a URI a client registered (jwks_uri, request_uri), read no
        further than ``limit`` bytes (a client's endless answer must not fill the OP's
        memory); ValueError when it is larger."""
        body = bytearray()
        async with self.http.stream("GET", uri, timeout=5.0) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise ValueError(f"{uri} answers more than {limit} bytes")
        return bytes(body)

    async def _private_key_jwt(
        self, form: dict[str, str], endpoint_url: str
    ) -> tuple[Client, Awaitable[None]]:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_client", "Unsupported client_assertion_type.")
        assertion = form.get("client_assertion") or ""
        try:
            unverified = extract_compact(assertion.encode("ascii"), registry=_ASSERTION_REGISTRY)
            claims = json.loads(unverified.payload)
        except (JoseError, ValueError, UnicodeError):
            raise OAuthError("invalid_client", "The client assertion is malformed.") from None
        client_id = claims.get("iss") if isinstance(claims, dict) else None
        if not isinstance(client_id, str) or (
            form.get("client_id") and form["client_id"] != client_id
        ):
            raise OAuthError("invalid_client", "The client assertion names another client.")
        await self._limited(client_id)
        try:
            client, jti, exp = await self._verify_assertion(
                client_id, unverified, claims, endpoint_url
            )
        except OAuthError:
            await self.limiter.failed(client_id)
            raise
        confirm = await self.one_time_ids.send("client_assertion", client_id, jti, exp + LEEWAY)
        return client, confirm

    async def _verify_assertion(
        self, client_id: str, unverified: Any, claims: Any, endpoint_url: str
    ) -> tuple[Client, str, int]:
        """The registered client whose key signed the assertion, and the assertion's jti
        and exp (RFC 7523 §3)."""
        client = await self.clients.get(client_id)
        if client is None or client.token_endpoint_auth_method != "private_key_jwt":  # noqa: S105
            raise OAuthError("invalid_client", "Client authentication failed.")
        keys = await self.client_keys(client)
        # The signature of the object parsed above is verified (the JWT is decoded
        # once; ``claims`` came from exactly the payload that is verified here).
        try:
            valid = validate_compact(unverified, keys, registry=_ASSERTION_REGISTRY)
        except (JoseError, ValueError):
            valid = False
        if not valid or not isinstance(claims, dict):
            raise OAuthError("invalid_client", "The client assertion's signature is invalid.")
        jti, exp = self._check_assertion_claims(claims, client_id, endpoint_url)
        return client, jti, exp

    def _check_assertion_claims(
        self, c: dict[str, Any], client_id: str, endpoint_url: str
    ) -> tuple[str, int]:
        """RFC 7523 §3 on a verified assertion: (its jti, its exp)."""
        now = int(time.time())
        if c.get("sub") != client_id:
            raise OAuthError("invalid_client", "The assertion's sub must be the client_id.")
        aud = c.get("aud")
        auds = [aud] if isinstance(aud, str) else list(aud or [])
        accepted = {self.issuer, self.issuer + "/auth/token", endpoint_url}
        if not auds or not set(auds) & accepted:
            raise OAuthError(
                "invalid_client", "The assertion's aud must be the token endpoint or issuer."
            )
        exp = c.get("exp")
        if not isinstance(exp, int) or exp < now - LEEWAY:
            raise OAuthError("invalid_client", "The client assertion has expired.")
        if exp > now + MAX_ASSERTION_LIFETIME + LEEWAY:
            raise OAuthError("invalid_client", "The client assertion lives too long (max 1 h).")
        nbf = c.get("nbf")
        if isinstance(nbf, int) and nbf > now + LEEWAY:
            raise OAuthError("invalid_client", "The client assertion is not valid yet.")
        jti = c.get("jti")
        if not isinstance(jti, str) or not 8 <= len(jti) <= 255 or not jti.isprintable():
            raise OAuthError("invalid_client", "The client assertion needs a jti.")
        return jti, exp
