"""Authorization code flow with PKCE and private_key_jwt, through the HTTP API."""

from __future__ import annotations

from typing import Any

from idkit import ISSUER, LOA_SUBSTANTIAL, decode_unverified


async def test_digid_login_gives_id_and_access_token(browser: Any, register: Any) -> None:
    rp = await register(allowed_scopes=["openid", "profile"])
    login = await browser.login(rp, "digid", "digid-jan")
    assert login.location.startswith("https://rp.example.nl/callback?")
    assert login.params["state"] == login.state
    assert login.params["iss"] == ISSUER
    response = await browser.token(rp, login)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    id_claims = decode_unverified(body["id_token"])
    assert id_claims["nonce"] == login.nonce
    assert id_claims["acr"] == LOA_SUBSTANTIAL
    assert "amr" not in id_claims
    assert id_claims["exp"] - id_claims["iat"] <= 300
    assert id_claims["given_name"] == "Jan"
    assert "bsn" not in id_claims
    access = decode_unverified(body["access_token"])
    assert "samen" in access["aud"]
    assert access["sub"] == id_claims["sub"]
