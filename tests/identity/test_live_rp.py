"""A relying party built with authlib's OAuth client completes the code flow (PKCE,
private_key_jwt) against a real running identity service (uvicorn on a free port),
and the service's logs never contain a BSN."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from idkit import LOA_SUBSTANTIAL, hidden_fields, path_of
from joserfc import jwt
from joserfc.jwk import KeySet

from identity.seed import demo_key

pytestmark = pytest.mark.slow


async def test_authlib_rp_completes_the_flow(live: dict[str, Any]) -> None:
    base = live["base"]
    async with httpx.AsyncClient(base_url=base) as browser:
        meta = (await browser.get("/.well-known/openid-configuration")).json()
        assert meta["issuer"] == base
        rp = AsyncOAuth2Client(
            client_id="demo-gemeente-pkjwt",
            client_secret=demo_key(),
            token_endpoint_auth_method="private_key_jwt",
            redirect_uri="http://127.0.0.1:8080/callback",
            scope="openid profile procurement:enroll",
            code_challenge_method="S256",
        )
        rp.register_client_auth_method(PrivateKeyJWT(meta["token_endpoint"]))
        verifier = generate_token(48)
        nonce = generate_token(20)
        url, state = rp.create_authorization_url(
            meta["authorization_endpoint"],
            code_verifier=verifier,
            nonce=nonce,
            acr_values=LOA_SUBSTANTIAL,
        )
        # The person's browser: authorize → login page → simulator → callback → RP.
        r = await browser.get(url)
        assert r.status_code == 303
        page = await browser.get(path_of(r.headers["location"]))
        r = await browser.post(
            "/auth/login", data={**hidden_fields(page.text), "means": "eherkenning"}
        )
        page = await browser.get(path_of(r.headers["location"]))
        r = await browser.post(
            "/auth/simulators/eherkenning/authorize",
            data={
                **hidden_fields(page.text),
                "identity": "eh-geldrop-inkoop",
                "level": "urn:etoegang:core:assurance-class:loa3",
                "action": "login",
            },
        )
        r = await browser.get(path_of(r.headers["location"]))
        callback = r.headers["location"]
        assert callback.startswith("http://127.0.0.1:8080/callback?")

        token = await rp.fetch_token(
            meta["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
            state=state,
        )
        keys = KeySet.import_key_set((await browser.get("/auth/jwks")).json())
        id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256", "PS256"]).claims
        assert id_token["nonce"] == nonce
        assert id_token["iss"] == base
        assert id_token["acr"] == LOA_SUBSTANTIAL
        assert id_token["org_id"] == "00000001004567891000"
        assert "procurement:enroll" in token["scope"].split()
        rp.token = token
        info = await rp.get(meta["userinfo_endpoint"])
        assert info.status_code == 200
        assert info.json()["sub"] == id_token["sub"]
        await rp.aclose()


async def test_bsn_login_leaves_no_bsn_in_logs(live: dict[str, Any]) -> None:
    base = live["base"]
    async with httpx.AsyncClient(base_url=base) as browser:
        verifier = generate_token(48)
        rp = AsyncOAuth2Client(
            client_id="demo-gemeente",
            client_secret="demo-gemeente-dev-secret",
            token_endpoint_auth_method="client_secret_basic",
            redirect_uri="http://127.0.0.1:8080/callback",
            scope="openid bsn",
            code_challenge_method="S256",
        )
        url, state = rp.create_authorization_url(
            f"{base}/auth/authorize", code_verifier=verifier, nonce=generate_token(20)
        )
        r = await browser.get(url)
        page = await browser.get(path_of(r.headers["location"]))
        r = await browser.post("/auth/login", data={**hidden_fields(page.text), "means": "digid"})
        page = await browser.get(path_of(r.headers["location"]))
        r = await browser.post(
            "/auth/simulators/digid/authorize",
            data={
                **hidden_fields(page.text),
                "identity": "digid-jan",
                "level": "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
                "action": "login",
            },
        )
        r = await browser.get(path_of(r.headers["location"]))
        token = await rp.fetch_token(
            f"{base}/auth/token",
            authorization_response=r.headers["location"],
            code_verifier=verifier,
            state=state,
        )
        claims = jwt.decode(
            token["id_token"],
            KeySet.import_key_set((await browser.get("/auth/jwks")).json()),
            algorithms=["RS256"],
        ).claims
        assert claims["bsn"] == "999993653"
        await rp.aclose()
    await asyncio.sleep(0.2)
    text = live["log"].read_text()
    assert "/auth/token" in text or text  # the service did log something
    assert "999993653" not in text
