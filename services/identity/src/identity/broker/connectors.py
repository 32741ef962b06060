"""Connectors: the simulators (in-process) and a generic upstream OIDC connector (authlib)."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

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
    endpoint), which saves a loopback request per login."""

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
            tokens = await self.idp.exchange(
                self.info.name, code, redirect_uri, code_verifier, BROKER_CLIENT_ID
            )
            claims = await self.idp.p.keys.verify_simulator(tokens["id_token"])
        except (OAuthError, ValueError) as exc:
            raise UpstreamError(str(exc)) from None
        _check_id_token(claims, self.idp.issuer(self.info.name), BROKER_CLIENT_ID, nonce)
        try:
            return identity_from_claims(self.info.name, claims)
        except (ValueError, KeyError) as exc:
            raise UpstreamError(str(exc)) from None


class OidcConnector:
    """A production upstream (a broker of DigiD, eHerkenning, …) spoken to with authlib.

    Configured per means with ``issuer``, ``authorization_endpoint``, ``token_endpoint``,
    ``jwks_uri``, ``client_id`` and ``client_secret`` (IDENTITY_UPSTREAMS, JSON).
    """

    def __init__(
        self,
        means: str,
        config: dict[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.info = MEANS[means]
        self.config = config
        self.transport = transport
        self._jwks: tuple[float, dict[str, Any]] | None = None

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
