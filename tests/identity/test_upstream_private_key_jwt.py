"""The generic upstream-OIDC connector authenticating to its upstream with private_key_jwt
(RFC 7523), against a fake production upstream: the in-process DigiD simulator behind a
token endpoint that accepts only a signed client assertion from a registered key."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from idkit import ISSUER, LOA_SUBSTANTIAL, Browser, decode_unverified, make_settings
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from identity.main import create_app
from identity.simulators.idp import BROKER_CLIENT_ID

UPSTREAM = f"{ISSUER}/auth/simulators/digid"
TOKEN_ENDPOINT = f"{UPSTREAM}/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class PrivateKeyJwtUpstream(httpx.AsyncBaseTransport):
    """An upstream whose token endpoint authenticates the broker only by private_key_jwt
    against the public keys registered for it (signature, iss = sub = client_id, aud = the
    token endpoint, short exp, single-use jti); everything else is the simulator."""

    def __init__(self, app: Any, registered: KeySet, secret: str) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.registered = registered
        self.secret = secret
        self.seen: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.refused: list[str] = []
        self.jtis: set[str] = set()

    def refuse(self, why: str) -> httpx.Response:
        self.refused.append(why)
        return httpx.Response(401, json={"error": "invalid_client", "error_description": why})

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) != TOKEN_ENDPOINT:
            return await self.inner.handle_async_request(request)
        form = dict(parse_qsl((await request.aread()).decode()))
        if "authorization" in request.headers or "client_secret" in form:
            return self.refuse("client secrets are not accepted here")
        if form.pop("client_assertion_type", None) != ASSERTION_TYPE:
            return self.refuse("client_assertion_type")
        try:
            decoded = jwt.decode(form.pop("client_assertion", ""), self.registered)
        except (JoseError, ValueError):
            return self.refuse("signature")
        claims = dict(decoded.claims)
        now = time.time()
        if (
            claims.get("iss") != BROKER_CLIENT_ID
            or claims.get("sub") != BROKER_CLIENT_ID
            or claims.get("aud") != TOKEN_ENDPOINT
            or not now < claims.get("exp", 0) <= now + 300
            or claims.get("jti") in self.jtis
        ):
            return self.refuse("claims")
        self.jtis.add(claims["jti"])
        self.seen.append((dict(decoded.header), claims))
        # Authenticated: hand the exchange on to the simulator (which knows only a secret).
        basic = base64.b64encode(f"{BROKER_CLIENT_ID}:{self.secret}".encode()).decode()
        forwarded = httpx.Request(
            "POST",
            request.url,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "authorization": f"Basic {basic}",
            },
            content=urlencode(form).encode(),
        )
        return await self.inner.handle_async_request(forwarded)


def upstream_config(private_jwk: Any) -> dict[str, Any]:
    return {
        "issuer": UPSTREAM,
        "authorization_endpoint": f"{UPSTREAM}/authorize",
        "token_endpoint": TOKEN_ENDPOINT,
        "jwks_uri": f"{UPSTREAM}/jwks",
        "client_id": BROKER_CLIENT_ID,
        "token_endpoint_auth_method": "private_key_jwt",
        "private_key_jwk": private_jwk,
    }


def login_through(broker: Any) -> tuple[Browser, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=broker), base_url=ISSUER)
    return Browser(http), http


@pytest.mark.parametrize("kind", ["RSA", "EC"])
async def test_private_key_jwt_towards_the_upstream(
    app: Any, database: Any, register: Any, kind: str
) -> None:
    key: RSAKey | ECKey = (
        RSAKey.generate_key(2048, parameters={"kid": "broker-digid-1"})
        if kind == "RSA"
        else ECKey.generate_key("P-256", parameters={"kid": "broker-digid-ec"})
    )
    upstream = PrivateKeyJwtUpstream(app, KeySet([key]), app.state.simulators.broker_secret())
    # The key as an operator puts it in IDENTITY_UPSTREAMS (a JWK object; no secret).
    settings = make_settings(
        database.url, upstreams={"digid": upstream_config(key.as_dict(private=True))}
    )
    broker = create_app(settings, database=database, upstream_transport=upstream)
    connector = broker.state.identity.connectors["digid"]
    assert type(connector).__name__ == "OidcConnector"
    assert connector.auth_method == "private_key_jwt"
    rp = await register()
    browser, http = login_through(broker)
    async with http:
        for _ in range(2):
            login = await browser.login(rp, "digid", "digid-jan", prompt="login")
            assert "code" in login.params, login.location
            body = (await browser.token(rp, login)).json()
            assert decode_unverified(body["id_token"])["acr"] == LOA_SUBSTANTIAL
    assert upstream.refused == []
    assert len(upstream.seen) == 2
    (header, claims), (_, second) = upstream.seen
    assert header["kid"] == key.kid
    assert header["alg"] == ("RS256" if kind == "RSA" else "ES256")
    assert claims["exp"] - claims["iat"] <= 60
    assert claims["jti"] != second["jti"]  # a fresh assertion per token request


async def test_upstream_refuses_an_unregistered_key(app: Any, database: Any, register: Any) -> None:
    registered = RSAKey.generate_key(2048, parameters={"kid": "registered"})
    other = RSAKey.generate_key(2048, parameters={"kid": "registered"})
    upstream = PrivateKeyJwtUpstream(
        app, KeySet([registered]), app.state.simulators.broker_secret()
    )
    settings = make_settings(
        database.url, upstreams={"digid": upstream_config(other.as_dict(private=True))}
    )
    broker = create_app(settings, database=database, upstream_transport=upstream)
    rp = await register()
    browser, http = login_through(broker)
    async with http:
        login = await browser.login(rp, "digid", "digid-jan")
    assert login.params["error"] == "access_denied"
    assert upstream.refused == ["signature"]
    assert upstream.seen == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"private_key_jwk": None}, "not a valid JWK"),
        ({"private_key_jwk": "{not json"}, "not a valid JWK"),
        ({"private_key_jwk": "public"}, "private RSA or EC key"),
        ({"private_key_jwk": "wrong-alg"}, "does not fit the key"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "must be one of"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "needs a client_secret"),
    ],
)
def test_bad_upstream_client_authentication_refuses_to_start(
    database: Any, change: dict[str, Any], message: str
) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k"})
    samples = {
        "public": key.as_dict(private=False),
        "wrong-alg": {**key.as_dict(private=True), "alg": "ES256"},
    }
    config = upstream_config(key.as_dict(private=True))
    config.update(change)
    sample = config.get("private_key_jwk")
    if isinstance(sample, str) and sample in samples:
        config["private_key_jwk"] = samples[sample]
    with pytest.raises(ValueError, match=message):
        create_app(make_settings(database.url, upstreams={"digid": config}), database=database)
