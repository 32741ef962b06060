"""The key clients encrypt request objects to (RSA-OAEP-256, ``use: enc``) is rotated by
``rotate-keys`` as the signing keys are: the new key is published first, the old one stays
published and keeps decrypting until its retention ends, then it is gone. A process that
loaded its keys before another one rotated decrypts objects for the new key too.

Its own database (rotations would change the keys other test modules see)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from idkit import ISSUER, RP, RP_CALLBACK, Browser, make_settings, query_of
from joserfc import jwe
from joserfc.jwk import RSAKey
from sqlalchemy import select, update
from sqlmodel import col
from test_rp_profile import ENC, request_object, request_params

from identity.keys.models import SigningKey
from identity.main import create_app
from servicekit.clock import utcnow
from servicekit.db import Database
from servicekit.testing import fresh_database_url, migrated_database


@pytest.fixture(scope="module")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    tmp: Path = tmp_path_factory.mktemp("identity-enc-rotation")
    async with fresh_database_url("identity_enc_rotation", tmp) as url:
        db = await migrated_database("identity.migrations", url)
        yield db
        await db.dispose()


@pytest.fixture(scope="module")
async def app(database: Database) -> Any:
    application = create_app(make_settings(database.url), database=database)
    await application.state.identity.keys.ensure()
    return application


async def enc_keys(http: httpx.AsyncClient) -> list[RSAKey]:
    keys = (await http.get("/auth/jwks")).json()["keys"]
    return [RSAKey.import_key(k) for k in keys if k.get("use") == "enc"]


def encrypt(token: str, key: RSAKey, with_kid: bool = True) -> str:
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT"}
    if with_kid:
        header["kid"] = str(key.kid)
    return jwe.encrypt_compact(header, token.encode(), key, registry=ENC)


async def authorize(http: httpx.AsyncClient, rp: RP, encrypted: str) -> httpx.Response:
    query = {"client_id": rp.client_id, "request": encrypted, "redirect_uri": RP_CALLBACK}
    return await http.get("/auth/authorize?" + urlencode(query))


def accepted(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/auth/login")


def refused(response: httpx.Response) -> str | None:
    if response.status_code != 303 or not response.headers["location"].startswith(RP_CALLBACK):
        return None
    return query_of(response.headers["location"]).get("error")


async def test_rotation_publishes_a_new_key_and_keeps_the_old_one_decrypting(
    app: Any, browser: Browser, register: Any, database: Database
) -> None:
    rp: RP = await register()
    (old,) = await enc_keys(browser.http)
    store = app.state.identity.keys
    summary = await store.rotate(actor="test")
    assert summary["encryption"]["retired"] == [old.kid]
    current, previous = await enc_keys(browser.http)
    # The new key first (clients take the first enc key), the old one still published.
    assert previous.kid == old.kid
    assert current.kid == summary["encryption"]["activated"]
    # A client with the JWKS cached from before, and one with the new JWKS: both accepted,
    # with or without a kid in the JWE header.
    for key in (old, current):
        for with_kid in (True, False):
            params, _ = request_params(rp)
            sealed = encrypt(request_object(rp, params), key, with_kid)
            answer = await authorize(browser.http, rp, sealed)
            assert accepted(answer), (key.kid, with_kid, answer.headers.get("location"))
    # Past its retention the old key is no longer published, and no longer decrypts.
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(SigningKey)
            .where(col(SigningKey.kid) == old.kid)
            .values(retire_after=utcnow() - timedelta(seconds=1))
        )
    assert old.kid in await store.prune(actor="test")
    store.invalidate()
    assert [k.kid for k in await enc_keys(browser.http)] == [current.kid]
    params, _ = request_params(rp)
    answer = await authorize(browser.http, rp, encrypt(request_object(rp, params), old))
    assert refused(answer) == "invalid_request_object"


async def test_a_process_that_loaded_before_the_rotation_decrypts_for_the_new_key(
    app: Any, browser: Browser, register: Any, database: Database
) -> None:
    rp: RP = await register()
    for with_kid in (True, False):
        # Another identity process, its keys loaded (and cached) before this one rotates.
        other = create_app(make_settings(database.url), database=database)
        await other.state.identity.keys.load()
        await app.state.identity.keys.rotate(actor="test")
        newest = (await enc_keys(browser.http))[0]
        params, _ = request_params(rp)
        sealed = encrypt(request_object(rp, params), newest, with_kid)
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
            assert accepted(await authorize(http, rp, sealed)), with_kid
        await other.state.identity.aclose()


async def test_the_rotate_keys_command_rotates_the_encryption_key(
    app: Any, browser: Browser, database: Database
) -> None:
    before = (await enc_keys(browser.http))[0]
    env = {
        **os.environ,
        "IDENTITY_DATABASE_URL": database.url,
        "IDENTITY_ENVIRONMENT": "test",
        "OTEL_SDK_DISABLED": "true",
        "PYTHONWARNINGS": "ignore",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "identity", "rotate-keys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    # The next signing keys were published moments ago: they wait, and the command says so.
    assert summary["activated"] == []
    assert len(summary["waiting"]) == 2
    assert "not activated" in done.stderr
    assert summary["encryption"]["retired"] == [before.kid]
    app.state.identity.keys.invalidate()
    after = await enc_keys(browser.http)
    assert after[0].kid == summary["encryption"]["activated"]
    assert before.kid in [k.kid for k in after]
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(SigningKey))).scalars().all()
    active = [r for r in rows if r.purpose == "encryption" and r.status == "active"]
    assert [r.kid for r in active] == [after[0].kid]
