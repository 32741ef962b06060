"""A request object is used once: its jti (by value without one: the hash of its claims) is
recorded until its expiry, and a replay is refused with invalid_request_object, also when
the same object arrives at several identity processes at once (the database's unique
constraint decides). Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from idkit import ISSUER, RP, RP_CALLBACK, Browser, make_settings, query_of
from joserfc import jwe
from test_rp_profile import ENC, op_encryption_key, request_object, request_params

from identity.main import create_app
from servicekit.db import Database


def authorize_url(rp: RP, token: str) -> str:
    # The registered redirect URI outside the object too, so errors reach the client.
    query = {"client_id": rp.client_id, "request": token, "redirect_uri": RP_CALLBACK}
    return "/auth/authorize?" + urlencode(query)


def started_login(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/auth/login")


def refused_as_replay(response: httpx.Response) -> bool:
    if response.status_code != 303 or not response.headers["location"].startswith(RP_CALLBACK):
        return False
    error = query_of(response.headers["location"])
    return error.get("error") == "invalid_request_object" and "already used" in str(
        error.get("error_description")
    )


async def test_a_signed_request_object_is_used_once(browser: Browser, register: Any) -> None:
    rp: RP = await register()
    params, _verifier = request_params(rp)
    token = request_object(rp, params, jti=uuid.uuid4().hex)
    assert started_login(await browser.http.get(authorize_url(rp, token)))
    replay = await browser.http.get(authorize_url(rp, token))
    assert refused_as_replay(replay), replay.headers.get("location")
    # Another object with another jti (and otherwise the same parameters) is a new request.
    fresh = request_object(rp, params, jti=uuid.uuid4().hex)
    assert started_login(await browser.http.get(authorize_url(rp, fresh)))


async def test_without_a_jti_the_same_claims_are_the_same_request(
    browser: Browser, register: Any
) -> None:
    rp: RP = await register()
    params, _verifier = request_params(rp)
    token = request_object(rp, params)
    assert started_login(await browser.http.get(authorize_url(rp, token)))
    assert refused_as_replay(await browser.http.get(authorize_url(rp, token)))
    # Encrypted afresh (other JWE bytes), the signed object inside is still the same one.
    key = await op_encryption_key(browser.http)
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT", "kid": key.kid}
    rewrapped = jwe.encrypt_compact(header, token.encode(), key, registry=ENC)
    assert refused_as_replay(await browser.http.get(authorize_url(rp, rewrapped)))


async def test_a_pushed_request_object_is_used_once(browser: Browser, register: Any) -> None:
    rp: RP = await register()
    params, _verifier = request_params(rp)
    token = request_object(rp, params, jti=uuid.uuid4().hex)
    data, _ = rp.auth({"client_id": rp.client_id, "request": token}, aud=f"{ISSUER}/auth/par")
    pushed = await browser.http.post("/auth/par", data=data)
    assert pushed.status_code == 201, pushed.text
    data, _ = rp.auth({"client_id": rp.client_id, "request": token}, aud=f"{ISSUER}/auth/par")
    again = await browser.http.post("/auth/par", data=data)
    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_request_object"
    # ... and not at the authorization endpoint either.
    assert refused_as_replay(await browser.http.get(authorize_url(rp, token)))


async def test_a_client_hosted_object_with_a_jti_is_used_once(
    browser: Browser, register: Any, app: Any
) -> None:
    hosted = "https://rp.example.nl/requests/once.jwt"
    static = "https://rp.example.nl/requests/static.jwt"
    rp: RP = await register(request_uris=[hosted, static])
    params, _verifier = request_params(rp)
    documents = {
        hosted: request_object(rp, params, jti=uuid.uuid4().hex),
        # No jti: a static document the client may reuse (OIDC Core §6.2) until its exp.
        static: request_object(rp, params),
    }
    authenticator = app.state.identity.client_auth
    original = authenticator.http

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=documents[str(request.url)])

    authenticator.http = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    try:
        for uri in (hosted, static):
            query = {"client_id": rp.client_id, "request_uri": uri, "redirect_uri": RP_CALLBACK}
            first = await browser.http.get("/auth/authorize?" + urlencode(query))
            assert started_login(first), first.text
            second = await browser.http.get("/auth/authorize?" + urlencode(query))
            if uri == hosted:
                assert refused_as_replay(second), second.headers.get("location")
            else:
                assert started_login(second), second.headers.get("location")
    finally:
        await authenticator.http.aclose()
        authenticator.http = original


async def test_concurrent_uses_at_several_processes_one_wins(
    app: Any, database: Database, register: Any
) -> None:
    # A second identity process on the same database: its own one-time-id writer.
    other = create_app(make_settings(database.url), database=database)
    rp: RP = await register()
    params, _verifier = request_params(rp)
    token = request_object(rp, params, jti=uuid.uuid4().hex)
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url=ISSUER)
        for a in (app, other, app, other, app, other)
    ]
    try:
        answers = await asyncio.gather(*(c.get(authorize_url(rp, token)) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
        await other.state.identity.aclose()
    assert sum(started_login(a) for a in answers) == 1, [a.headers.get("location") for a in answers]
    assert sum(refused_as_replay(a) for a in answers) == len(answers) - 1
