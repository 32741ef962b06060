"""Connectors: the simulators (in-process) and a generic upstream OIDC connector (authlib)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, KeySet, RSAKey

from .means import MEANS, MeansInfo, UpstreamIdentity, identity_from_claims

logger = logging.getLogger("identity.broker")


class UpstreamError(Exception):
    """The upstream refused or returned something we cannot accept."""


def _check_id_token(claims: dict[str, Any], issuer: str, client_id: str, nonce: str) -> None:
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else list(aud or [])
    if claims.get("iss") != issuer or client_id not in auds:
        raise UpstreamError("upstream ID token has the wrong issuer or audience")
    if claims.get("nonce") != nonce:
        raise UpstreamError("upstream ID token nonce mismatch")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time() - 30:
        raise UpstreamError("upstream ID token expired")


class SimulatorConnector:
    """A built-in simulator. The browser legs go over HTTP like any upstream; the code
    exchange calls the simulator's token logic in-process (same code as its HTTP token
    endpoint: sealed single-use code, client, redirect URI and PKCE S256 checked), which
    saves a loopback request per login. In-process the ID token's claims are handed over
    as they are: signing them with the simulator key and verifying that signature again in
    the same process would protect no channel. The claims still pass the same issuer, audience, nonce and expiry checks
    as an upstream's ID token; the HTTP token endpoint still signs."""

    def __init__(self, means: str, idp: Any) -> None:
        self.info: MeansInfo = MEANS[means]
        self.idp = idp

    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str, min_loa: str
    ) -> str:
        from ..simulators.idp import BROKER_CLIENT_ID

        query = urlencode(
            {
                "client_id": BROKER_CLIENT_ID,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "openid",
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "acr_values": min_loa,
            }
        )
        return f"/auth/simulators/{self.info.name}/authorize?{query}"

    async def exchange(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        from ..oauth.errors import OAuthError
        from ..simulators.idp import BROKER_CLIENT_ID

        try:
            claims = await self.idp.exchange_claims(
                self.info.name, code, redirect_uri, code_verifier, BROKER_CLIENT_ID
            )
        except OAuthError as exc:
            raise UpstreamError(str(exc)) from None
        _check_id_token(claims, self.idp.issuer(self.info.name), BROKER_CLIENT_ID, nonce)
        try:
            return identity_from_claims(self.info.name, claims)
        except (ValueError, KeyError) as exc:
            raise UpstreamError(str(exc)) from None


AUTH_METHODS = ("client_secret_basic", "private_key_jwt")
ASSERTION_LIFETIME = 60


def _assertion_key(value: Any, means: str) -> tuple[RSAKey | ECKey, str, str]:
    """(private key, alg, kid) from the ``private_key_jwk`` setting (a JWK object or its
    JSON text). Refuses public keys and key types that cannot sign client assertions."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        key = JWKRegistry.import_key(data)
    except (ValueError, TypeError, JoseError) as exc:
        raise ValueError(f"upstream {means}: private_key_jwk is not a valid JWK") from exc
    if not isinstance(key, RSAKey | ECKey) or not key.is_private:
        raise ValueError(f"upstream {means}: private_key_jwk must be a private RSA or EC key")
    if isinstance(key, RSAKey):
        alg = str(data.get("alg") or "RS256")
        allowed: tuple[str, ...] = ("RS256", "PS256")
    else:
        alg = str(data.get("alg") or {"P-256": "ES256", "P-384": "ES384"}.get(key.curve_name, ""))
        allowed = ("ES256", "ES384")
    if alg not in allowed:
        raise ValueError(f"upstream {means}: alg {alg or '?'} does not fit the key")
    kid = str(data.get("kid") or key.thumbprint())
    return key, alg, kid


class _PrivateKeyJWT:
    """authlib client authentication ``private_key_jwt`` (RFC 7523 §2.2): a fresh,
    short-lived assertion per token request, signed with the key from the settings and
    naming it by ``kid``. (authlib's own PrivateKeyJWT reuses a ``jti`` when given extra
    claims and makes assertions valid for an hour.)"""

    name = "private_key_jwt"

    def __init__(self, key: RSAKey | ECKey, alg: str, kid: str, audience: str | None) -> None:
        self.key = key
        self.alg = alg
        self.kid = kid
        self.audience = audience

    def __call__(
        self, auth: Any, method: str, uri: str, headers: Any, body: str
    ) -> tuple[str, Any, str]:
        from authlib.common.urls import add_params_to_qs

        now = int(time.time())
        claims = {
            "iss": auth.client_id,
            "sub": auth.client_id,
            "aud": self.audience or uri,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        header = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        assertion = jwt.encode(header, claims, self.key, algorithms=[self.alg])
        body = add_params_to_qs(
            body or "",
            [
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ],
        )
        return uri, headers, body


class OidcConnector:
    """A production upstream (a broker of DigiD, eHerkenning, …) spoken to with authlib.

    Configured per means (IDENTITY_UPSTREAMS, JSON) with ``issuer``,
    ``authorization_endpoint``, ``token_endpoint``, ``jwks_uri``, ``client_id`` and the
    client authentication towards the upstream: ``token_endpoint_auth_method``
    ``client_secret_basic`` (default; ``client_secret``) or ``private_key_jwt``
    (``private_key_jwk``: the broker's private JWK for this means, whose public half is
    registered at the upstream; optional ``client_assertion_audience``, default the token
    endpoint). A bad configuration refuses to start.
    """

    def __init__(
        self,
        means: str,
        config: dict[str, Any],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.info = MEANS[means]
        self.config = config
        self.transport = transport
        self._jwks: tuple[float, dict[str, Any]] | None = None
        self.auth_method = str(config.get("token_endpoint_auth_method") or AUTH_METHODS[0])
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(
                f"upstream {means}: token_endpoint_auth_method must be one of {AUTH_METHODS}"
            )
        self._assertion: _PrivateKeyJWT | None = None
        if self.auth_method == "private_key_jwt":
            key, alg, kid = _assertion_key(config.get("private_key_jwk"), means)
            audience = config.get("client_assertion_audience")
            self._assertion = _PrivateKeyJWT(key, alg, kid, str(audience) if audience else None)
        elif not config.get("client_secret"):
            raise ValueError(f"upstream {means}: client_secret_basic needs a client_secret")

    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str, min_loa: str
    ) -> str:
        query = urlencode(
            {
                "client_id": self.config["client_id"],
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": self.config.get("scope", "openid"),
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "acr_values": min_loa,
            }
        )
        return f"{self.config['authorization_endpoint']}?{query}"

    def _client(self) -> Any:
        # Imported here: authlib's httpx integration warns at import time, and only
        # deployments with a configured upstream need it.
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        kwargs: dict[str, Any] = {"timeout": 10.0}
        if self.transport is not None:
            kwargs["transport"] = self.transport
        if self._assertion is not None:
            client = AsyncOAuth2Client(
                client_id=self.config["client_id"],
                token_endpoint_auth_method=self._assertion.name,
                **kwargs,
            )
            client.register_client_auth_method(self._assertion)
            return client
        return AsyncOAuth2Client(
            client_id=self.config["client_id"],
            client_secret=self.config.get("client_secret"),
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106
            **kwargs,
        )

    async def _keys(self, refresh: bool = False) -> KeySet:
        # A plain client: authlib's session would try to attach (and validate) its token.
        if self._jwks is None or refresh or time.monotonic() - self._jwks[0] > 300:
            async with httpx.AsyncClient(transport=self.transport, timeout=10.0) as plain:
                response = await plain.get(self.config["jwks_uri"])
            response.raise_for_status()
            self._jwks = (time.monotonic(), response.json())
        return KeySet.import_key_set(self._jwks[1])  # type: ignore[arg-type]

    async def exchange(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    self.config["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    code_verifier=code_verifier,
                )
                id_token = token.get("id_token")
                if not id_token:
                    raise UpstreamError("upstream returned no ID token")
                keys = await self._keys()
                try:
                    decoded = jwt.decode(id_token, keys, algorithms=["RS256", "PS256", "ES256"])
                except JoseError:
                    keys = await self._keys(refresh=True)
                    decoded = jwt.decode(id_token, keys, algorithms=["RS256", "PS256", "ES256"])
        except (httpx.HTTPError, JoseError, ValueError) as exc:
            logger.warning("upstream %s exchange failed: %s", self.info.name, type(exc).__name__)
            raise UpstreamError(type(exc).__name__) from None
        except Exception as exc:  # authlib raises its own OAuthError family
            if type(exc).__module__.startswith("authlib"):
                logger.warning("upstream %s refused: %s", self.info.name, exc)
                raise UpstreamError(type(exc).__name__) from None
            raise
        claims = dict(decoded.claims)
        _check_id_token(claims, self.config["issuer"], self.config["client_id"], nonce)
        try:
            return identity_from_claims(self.info.name, claims)
        except (ValueError, KeyError) as exc:
            raise UpstreamError(str(exc)) from None
