"""A relying party that uses dynamic registration, a pushed and encrypted request object
and signed, encrypted userinfo completes a login through the gateway: the new /auth
paths (/auth/register, /auth/par) and /api/identity/v1/initial-access-tokens are reached
through it, and the discovery document it serves says so."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from e2ekit import DIGID_SUBSTANTIAL, Platform, basic_auth, bearer, hidden_fields, path_of, query_of
from joserfc import jwe, jwt
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, RSAKey

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

CALLBACK = "https://rp.example.nl/callback"
ENC = JWERegistry(algorithms=["RSA-OAEP-256", "A256GCM"])
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion(client_id: str, key: RSAKey, audience: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": uuid.uuid4().hex,
              "iat": now, "exp": now + 60}  # fmt: skip
    token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    return {"client_assertion_type": ASSERTION, "client_assertion": token}


async def test_dynamically_registered_rp_with_par_request_object_and_sealed_userinfo(
    platform: Platform,
) -> None:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        doc = (await http.get("/.well-known/openid-configuration")).json()
        issuer = doc["issuer"]
        assert doc["registration_endpoint"].endswith("/auth/register")
        assert doc["pushed_authorization_request_endpoint"].endswith("/auth/par")
        admin = await http.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "identity:admin"},
            headers={"Authorization": basic_auth("samen-admin", "samen-admin-dev-secret")},
        )
        assert admin.status_code == 200, admin.text
        issued = await http.post(
            "/api/identity/v1/initial-access-tokens",
            json={"expiresIn": 300},
            headers=bearer(admin.json()["access_token"]),
        )
        assert issued.status_code == 201, issued.text

        sig = RSAKey.generate_key(2048, parameters={"kid": "e2e-sig", "use": "sig"})
        enc = RSAKey.generate_key(2048, parameters={"kid": "e2e-enc", "use": "enc"})
        metadata: dict[str, Any] = {
            "client_name": "E2E dynamisch RP",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": dict(KeySet([sig, enc]).as_dict(private=False)),
            "scope": "openid profile",
            "userinfo_signed_response_alg": "RS256",
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
            "userinfo_encrypted_response_enc": "A256GCM",
        }
        created = await http.post(
            "/auth/register", json=metadata, headers=bearer(issued.json()["token"])
        )
        assert created.status_code == 201, created.text
        client_id = created.json()["client_id"]

        verifier = uuid.uuid4().hex + uuid.uuid4().hex
        state, now = uuid.uuid4().hex, int(time.time())
        claims = {"iss": client_id, "aud": issuer, "exp": now + 120, "iat": now,
                  "client_id": client_id, "response_type": "code", "redirect_uri": CALLBACK,
                  "scope": "openid profile", "state": state, "nonce": uuid.uuid4().hex,
                  "code_challenge": create_s256_code_challenge(verifier),
                  "code_challenge_method": "S256"}  # fmt: skip
        signed = jwt.encode({"alg": "RS256", "kid": sig.kid}, claims, sig)
        keys = (await http.get("/auth/jwks")).json()["keys"]
        op_enc = RSAKey.import_key(next(k for k in keys if k.get("use") == "enc"))
        sealed = jwe.encrypt_compact(
            {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT"}, signed.encode(), op_enc,
            registry=ENC,
        )  # fmt: skip
        pushed = await http.post(
            "/auth/par",
            data={
                "client_id": client_id,
                "request": sealed,
                **assertion(client_id, sig, f"{issuer}/auth/par"),
            },
        )
        assert pushed.status_code == 201, pushed.text

        outer = {"client_id": client_id, "request_uri": pushed.json()["request_uri"]}
        response = await http.get("/auth/authorize?" + urlencode(outer))
        assert response.status_code == 303, response.text
        page = await http.get(path_of(response.headers["location"]))
        chosen = await http.post("/auth/login", data={**hidden_fields(page.text), "means": "digid"})
        page = await http.get(path_of(chosen.headers["location"]))
        back = await http.post(
            "/auth/simulators/digid/authorize",
            data={
                **hidden_fields(page.text),
                "identity": "digid-jan",
                "level": DIGID_SUBSTANTIAL,
                "action": "login",
            },
        )
        final = await http.get(path_of(back.headers["location"]))
        assert final.status_code == 303, final.text
        result = query_of(final.headers["location"])
        assert result["state"] == state

        tokens = await http.post(
            "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": result["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
                **assertion(client_id, sig, f"{issuer}/auth/token"),
            },
        )
        assert tokens.status_code == 200, tokens.text
        answer = await http.get("/auth/userinfo", headers=bearer(tokens.json()["access_token"]))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/jwt")
        inner = jwe.decrypt_compact(answer.text, enc, registry=ENC).plaintext
        assert inner is not None
        published = KeySet.import_key_set({"keys": [k for k in keys if k.get("use") != "enc"]})
        userinfo = jwt.decode(inner.decode(), published, algorithms=["RS256"]).claims
        assert userinfo["aud"] == client_id
        assert userinfo["family_name"] == "Jansen"
