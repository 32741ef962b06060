"""The NL GOV OpenID Provider profile's relying-party features: request objects (signed,
encrypted, by reference), pushed authorization requests, signed and encrypted userinfo,
dynamic client registration, response_mode=form_post and sub_id_type."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from idkit import (
    ADMIN_ORG,
    ISSUER,
    RP,
    RP_CALLBACK,
    Browser,
    client_key,
    hidden_fields,
    machine_token,
    path_of,
    query_of,
)
from joserfc import jwe, jwt
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, RSAKey

ENC = JWERegistry(algorithms=["RSA-OAEP-256", "A256GCM", "A128GCM"])
DIGID = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard"
PSEUDONYM = "urn:nl-eid-gdi:1.0:id:Pseudonym"


def enc_key() -> RSAKey:
    """An RP key for encryption (use enc), beside its signing key."""
    return RSAKey.generate_key(
        2048, parameters={"kid": "rp-enc", "alg": "RSA-OAEP-256", "use": "enc"}
    )


def request_params(rp: RP, **kw: Any) -> tuple[dict[str, Any], str]:
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    params: dict[str, Any] = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": RP_CALLBACK,
        "scope": "openid profile",
        "state": "object-state",
        "nonce": uuid.uuid4().hex,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(kw)
    return params, verifier


def request_object(rp: RP, params: dict[str, Any], key: RSAKey | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": rp.client_id, "aud": ISSUER, "iat": now, "exp": now + 300, **params, **claims}
    signing = key or rp.key
    assert signing is not None
    return jwt.encode({"alg": "RS256", "kid": signing.kid}, body, signing)


async def op_encryption_key(http: httpx.AsyncClient) -> RSAKey:
    keys = (await http.get("/auth/jwks")).json()["keys"]
    found = [k for k in keys if k.get("use") == "enc"]
    assert found
    assert found[0]["alg"] == "RSA-OAEP-256"
    return RSAKey.import_key(found[0])


async def finish_login(browser: Browser, response: httpx.Response) -> str:
    """From /auth/authorize's answer through the DigiD simulator to the RP redirect."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/auth/login"), location
    chosen = await browser.choose(location, "digid")
    back = await browser.simulator(chosen.headers["location"], "digid-jan", DIGID)
    return str(back.headers["location"])


async def code_for(browser: Browser, response: httpx.Response) -> dict[str, str]:
    final = await browser.http.get(path_of(await finish_login(browser, response)))
    assert final.status_code == 303, final.text
    assert final.headers["location"].startswith(RP_CALLBACK)
    return query_of(final.headers["location"])


async def redeem(browser: Browser, rp: RP, code: str, verifier: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": RP_CALLBACK,
            "code_verifier": verifier}  # fmt: skip
    data, headers = rp.auth(form)
    response = await browser.http.post("/auth/token", data=data, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def op_keys(http: httpx.AsyncClient) -> KeySet:
    return KeySet.import_key_set((await http.get("/auth/jwks")).json())


# ----------------------------------------------------------- request objects (item 3)
async def test_signed_request_object_only_its_parameters_count(
    browser: Browser, register: Any
) -> None:
    rp: RP = await register()
    params, verifier = request_params(rp)
    outer = {"client_id": rp.client_id, "response_type": "code", "scope": "openid",
             "state": "outer-state", "request": request_object(rp, params)}  # fmt: skip
    response = await browser.http.get("/auth/authorize?" + urlencode(outer))
    back = await code_for(browser, response)
    assert back["state"] == "object-state"  # the object's, not the query's
    tokens = await redeem(browser, rp, back["code"], verifier)
    assert tokens["scope"] == "openid profile"

    # Signed with a key the client did not register: refused, to the registered URI.
    forged = request_object(rp, params, key=client_key(7))
    response = await browser.http.get(
        "/auth/authorize?"
        + urlencode({"client_id": rp.client_id, "request": forged, "redirect_uri": RP_CALLBACK})
    )
    assert response.status_code == 303
    assert query_of(response.headers["location"])["error"] == "invalid_request_object"
    # Expired, or for another audience: refused too (here without a usable redirect: a page).
    for bad in (
        request_object(rp, params, exp=int(time.time()) - 120),
        request_object(rp, params, aud="https://other.example.nl"),
        request_object(rp, params, iss="someone-else"),
    ):
        page = await browser.http.get(
            "/auth/authorize?" + urlencode({"client_id": rp.client_id, "request": bad})
        )
        assert page.status_code == 400, page.text


async def test_encrypted_request_object(browser: Browser, register: Any) -> None:
    rp: RP = await register()
    params, verifier = request_params(rp)
    signed = request_object(rp, params)
    key = await op_encryption_key(browser.http)
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT", "kid": key.kid}
    encrypted = jwe.encrypt_compact(header, signed.encode(), key, registry=ENC)
    outer = {"client_id": rp.client_id, "request": encrypted}
    back = await code_for(browser, await browser.http.get("/auth/authorize?" + urlencode(outer)))
    assert (await redeem(browser, rp, back["code"], verifier))["id_token"]


async def test_request_uri_only_when_registered(browser: Browser, register: Any, app: Any) -> None:
    hosted = "https://rp.example.nl/requests/1.jwt"
    rp: RP = await register(request_uris=[hosted])
    params, verifier = request_params(rp)
    token = request_object(rp, params)
    authenticator = app.state.identity.client_auth
    original = authenticator.http

    def serve(request: httpx.Request) -> httpx.Response:
        if str(request.url) == hosted:
            return httpx.Response(
                200, text=token, headers={"content-type": "application/oauth-authz-req+jwt"}
            )
        return httpx.Response(404)

    authenticator.http = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    try:
        outer = {"client_id": rp.client_id, "request_uri": hosted}
        response = await browser.http.get("/auth/authorize?" + urlencode(outer))
        back = await code_for(browser, response)
        assert (await redeem(browser, rp, back["code"], verifier))["access_token"]
        other = {"client_id": rp.client_id, "request_uri": "https://evil.example/x.jwt",
                 "redirect_uri": RP_CALLBACK}  # fmt: skip
        refused = await browser.http.get("/auth/authorize?" + urlencode(other))
        assert query_of(refused.headers["location"])["error"] == "invalid_request_uri"
    finally:
        await authenticator.http.aclose()
        authenticator.http = original


async def test_pushed_authorization_request(browser: Browser, register: Any) -> None:
    rp: RP = await register()
    params, verifier = request_params(rp)
    data, _ = rp.auth(params, aud=f"{ISSUER}/auth/par")
    pushed = await browser.http.post("/auth/par", data=data)
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 0 < body["expires_in"] <= 60
    outer = {"client_id": rp.client_id, "request_uri": body["request_uri"]}
    back = await code_for(browser, await browser.http.get("/auth/authorize?" + urlencode(outer)))
    assert back["state"] == "object-state"
    assert (await redeem(browser, rp, back["code"], verifier))["id_token"]
    # One use only, and only for the client that pushed it.
    again = await browser.http.get("/auth/authorize?" + urlencode(outer))
    assert again.status_code == 400
    # Pushing needs client authentication and valid parameters.
    assert (await browser.http.post("/auth/par", data=params)).status_code == 401
    bad, _ = rp.auth({**params, "code_challenge_method": "plain"}, aud=f"{ISSUER}/auth/par")
    refused = await browser.http.post("/auth/par", data=bad)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"


# ---------------------------------------------------------------- userinfo (item 4)
async def test_signed_and_encrypted_userinfo(browser: Browser, register: Any) -> None:
    plain: RP = await register()
    login = await browser.login(plain)
    access = (await browser.token(plain, login)).json()["access_token"]
    answer = await browser.http.get("/auth/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert answer.headers["content-type"].startswith("application/json")

    signed_rp: RP = await register(userinfo_signed_response_alg="PS256")
    login = await browser.login(signed_rp)
    access = (await browser.token(signed_rp, login)).json()["access_token"]
    answer = await browser.http.get("/auth/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/jwt")
    claims = jwt.decode(answer.text, await op_keys(browser.http), algorithms=["PS256"]).claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == signed_rp.client_id
    assert claims["given_name"] == "Jan"

    sig, enc = client_key(0), enc_key()
    jwks = dict(KeySet([sig, enc]).as_dict(private=False))
    sealed_rp: RP = await register(
        jwks=jwks,
        userinfo_signed_response_alg="RS256",
        userinfo_encrypted_response_alg="RSA-OAEP-256",
        userinfo_encrypted_response_enc="A256GCM",
    )
    sealed_rp.key = sig
    login = await browser.login(sealed_rp)
    access = (await browser.token(sealed_rp, login)).json()["access_token"]
    answer = await browser.http.get("/auth/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert answer.headers["content-type"].startswith("application/jwt")
    assert answer.text.count(".") == 4  # a JWE
    inner = jwe.decrypt_compact(answer.text, enc, registry=ENC).plaintext
    assert inner is not None
    claims = jwt.decode(inner.decode(), await op_keys(browser.http), algorithms=["RS256"]).claims
    assert claims["aud"] == sealed_rp.client_id
    assert claims["sub"]


async def test_userinfo_encryption_needs_the_clients_keys(register: Any) -> None:
    from servicekit.errors import BadRequest

    with pytest.raises(BadRequest):
        await register(token_endpoint_auth_method="client_secret_basic",
                       userinfo_encrypted_response_alg="RSA-OAEP-256")  # fmt: skip


# ---------------------------------------------------------- registration (item 5)
async def test_dynamic_registration_with_initial_access_tokens(
    browser: Browser, register: Any
) -> None:
    http = browser.http
    admin = await machine_token(http, register, allowed_scopes=["identity:admin"],
                                org_id=ADMIN_ORG, org_type="operator", roles=["platform-admin"])  # fmt: skip
    key = client_key(3)
    metadata = {
        "client_name": "Dynamisch RP",
        "redirect_uris": [RP_CALLBACK],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": dict(KeySet([key]).as_dict(private=False)),
        "scope": "openid profile",
        "userinfo_signed_response_alg": "RS256",
    }
    assert (await http.post("/auth/register", json=metadata)).status_code == 401
    issued = await http.post("/v1/initial-access-tokens", json={"expiresIn": 600}, headers=admin)
    assert issued.status_code == 201, issued.text
    initial = {"Authorization": f"Bearer {issued.json()['token']}"}
    # The same validation as /v1/clients: a plain-http redirect URI is refused.
    bad = {**metadata, "redirect_uris": ["http://rp.example.nl/cb"]}
    refused = await http.post("/auth/register", json=bad, headers=initial)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_redirect_uri"
    created = await http.post("/auth/register", json=metadata, headers=initial)
    assert created.status_code == 201, created.text
    client = created.json()
    assert client["client_id"]
    assert client["registration_access_token"]
    assert client["registration_client_uri"] == f"{ISSUER}/auth/register/{client['client_id']}"
    # One use per initial access token.
    assert (await http.post("/auth/register", json=metadata, headers=initial)).status_code == 401
    manage = {"Authorization": f"Bearer {client['registration_access_token']}"}
    path = urlsplit(client["registration_client_uri"]).path
    read = await http.get(path, headers=manage)
    assert read.status_code == 200
    assert read.json()["client_name"] == "Dynamisch RP"
    assert (await http.get(path, headers=initial)).status_code == 401
    changed = await http.put(path, json={**metadata, "client_name": "Nieuw"}, headers=manage)
    assert changed.status_code == 200
    assert changed.json()["client_name"] == "Nieuw"
    # The registered client works: it logs a person in.
    rp = RP(client_id=client["client_id"], key=key)
    login = await browser.login(rp)
    assert (await browser.token(rp, login)).status_code == 200
    assert (await http.delete(path, headers=manage)).status_code == 204
    assert (await http.get(path, headers=manage)).status_code == 401


async def test_a_registered_client_cannot_grant_itself_scopes(
    http: httpx.AsyncClient, register: Any
) -> None:
    admin = await machine_token(http, register, allowed_scopes=["identity:admin"],
                                org_id=ADMIN_ORG, org_type="operator", roles=["platform-admin"])  # fmt: skip
    issued = await http.post("/v1/initial-access-tokens", json={"expiresIn": 600}, headers=admin)
    initial = {"Authorization": f"Bearer {issued.json()['token']}"}
    metadata = {"client_name": "Gretig RP", "redirect_uris": [RP_CALLBACK],
                "token_endpoint_auth_method": "client_secret_basic", "scope": "openid profile"}  # fmt: skip
    greedy = await http.post("/auth/register", headers=initial,
                             json={**metadata, "scope": "openid registry:contracts"})  # fmt: skip
    assert greedy.status_code == 400
    assert greedy.json()["error"] == "invalid_client_metadata"
    created = (await http.post("/auth/register", json=metadata, headers=initial)).json()
    manage = {"Authorization": f"Bearer {created['registration_access_token']}"}
    path = urlsplit(created["registration_client_uri"]).path
    # The update an attacker would send: a machine grant with every privileged scope.
    everything = "registry:read registry:contracts registry:exposure registry:write " \
                 "procurement:manage procurement:enroll identity:admin"  # fmt: skip
    widened = await http.put(path, headers=manage, json={**metadata, "redirect_uris": [],
        "grant_types": ["client_credentials"], "scope": everything})  # fmt: skip
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_client_metadata"
    assert (await http.get(path, headers=manage)).json()["scope"] == "openid profile"
    token = await http.post("/auth/token", auth=(created["client_id"], created["client_secret"]),
                            data={"grant_type": "client_credentials"})  # fmt: skip
    assert token.status_code in (400, 401)
    assert "access_token" not in token.json()


# ------------------------------------------------------------- form_post (item 8)
async def test_response_mode_form_post(browser: Browser, register: Any) -> None:
    rp: RP = await register()
    response, params, verifier = await browser.start(rp, response_mode="form_post")
    location = await finish_login(browser, response)
    page = await browser.http.get(path_of(location))
    assert page.status_code == 200, page.text
    assert f'action="{RP_CALLBACK}"' in page.text
    assert 'method="post"' in page.text
    fields = hidden_fields(page.text)
    assert fields["state"] == params["state"]
    assert fields["iss"] == ISSUER
    assert "code" not in query_of(page.headers.get("location", ""))
    assert fields["code"]
    assert (await redeem(browser, rp, fields["code"], verifier))["access_token"]
    # Errors go the same way; an unknown mode is refused, never ignored.
    other = Browser(httpx.AsyncClient(transport=browser.http._transport, base_url=ISSUER))
    response, _, _ = await other.start(rp, response_mode="form_post", prompt="none")
    assert response.status_code == 200
    assert hidden_fields(response.text)["error"] == "login_required"
    response, _, _ = await other.start(rp, response_mode="fragment")
    assert query_of(response.headers["location"])["error"] == "invalid_request"


# -------------------------------------------------------------- sub_id_type (item 9)
async def test_sub_id_type_in_id_tokens_and_represents(browser: Browser, register: Any) -> None:
    rp: RP = await register(allowed_scopes=["openid", "profile", "registry:read"])
    keys = await op_keys(browser.http)

    async def id_token(**kw: Any) -> dict[str, Any]:
        login = await browser.login(rp, **kw)
        body = (await browser.token(rp, login)).json()
        # Logged out between logins (no hint: the person confirms the logout).
        page = await browser.http.get("/auth/end-session")
        await browser.http.post("/auth/end-session", data=hidden_fields(page.text))
        return dict(jwt.decode(body["id_token"], keys).claims)

    claims = await id_token()
    assert claims["sub_id_type"] == PSEUDONYM
    claims = await id_token(identity="digid-machtiging")
    assert claims["represents"]["sub_id_type"] == PSEUDONYM
    claims = await id_token(means="eherkenning", identity="eh-utrecht-inkoop")
    assert claims["represents"]["sub_id_type"] == "urn:nl-eid-gdi:1.0:id:OIN"
    assert claims["represents"]["sub"] == claims["org_id"]
    doc = (await browser.http.get("/.well-known/openid-configuration")).json()
    assert PSEUDONYM in doc["sub_id_types_supported"]


async def test_discovery_says_what_is_supported(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/.well-known/openid-configuration")).json()
    assert doc["request_parameter_supported"] is True
    assert doc["request_uri_parameter_supported"] is True
    assert "RS256" in doc["request_object_signing_alg_values_supported"]
    assert doc["request_object_encryption_alg_values_supported"] == ["RSA-OAEP-256"]
    assert "A256GCM" in doc["request_object_encryption_enc_values_supported"]
    assert doc["pushed_authorization_request_endpoint"] == f"{ISSUER}/auth/par"
    assert doc["registration_endpoint"] == f"{ISSUER}/auth/register"
    assert "form_post" in doc["response_modes_supported"]
    assert doc["userinfo_encryption_alg_values_supported"] == ["RSA-OAEP-256"]


# ---------------------------------------------- all together: one relying party
async def test_rp_with_registration_par_request_object_and_signed_userinfo(
    browser: Browser, register: Any
) -> None:
    http = browser.http
    admin = await machine_token(http, register, allowed_scopes=["identity:admin"],
                                org_id=ADMIN_ORG, org_type="operator", roles=["platform-admin"])  # fmt: skip
    initial = (await http.post("/v1/initial-access-tokens", json={}, headers=admin)).json()["token"]
    key, enc = client_key(4), enc_key()
    metadata = {
        "client_name": "Volledig RP",
        "redirect_uris": [RP_CALLBACK],
        "jwks": dict(KeySet([key, enc]).as_dict(private=False)),
        "scope": "openid profile",
        "userinfo_signed_response_alg": "PS256",
        "userinfo_encrypted_response_alg": "RSA-OAEP-256",
        "userinfo_encrypted_response_enc": "A256GCM",
    }
    created = await http.post("/auth/register", json=metadata,
                              headers={"Authorization": f"Bearer {initial}"})  # fmt: skip
    assert created.status_code == 201, created.text
    rp = RP(client_id=created.json()["client_id"], key=key)
    params, verifier = request_params(rp)
    op_key = await op_encryption_key(http)
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT"}
    sealed = jwe.encrypt_compact(header, request_object(rp, params).encode(), op_key, registry=ENC)
    data, _ = rp.auth({"client_id": rp.client_id, "request": sealed}, aud=ISSUER)
    pushed = await http.post("/auth/par", data=data)
    assert pushed.status_code == 201, pushed.text
    outer = {"client_id": rp.client_id, "request_uri": pushed.json()["request_uri"]}
    back = await code_for(browser, await http.get("/auth/authorize?" + urlencode(outer)))
    tokens = await redeem(browser, rp, back["code"], verifier)
    answer = await http.get("/auth/userinfo",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})  # fmt: skip
    inner = jwe.decrypt_compact(answer.text, enc, registry=ENC).plaintext
    assert inner is not None
    claims = jwt.decode(inner.decode(), await op_keys(http), algorithms=["PS256"]).claims
    id_claims = jwt.decode(tokens["id_token"], await op_keys(http)).claims
    assert claims["sub"] == id_claims["sub"]
    assert claims["family_name"] == "Jansen"
    assert json.loads(json.dumps(claims))  # plain JSON claims
