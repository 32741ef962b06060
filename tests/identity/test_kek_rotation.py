"""Rotation of the key-encryption key: `python -m identity rotate-kek` re-seals the stored
signing keys and login-session attributes with the new key, all or nothing, while the
service keeps working before, during and after (IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from idkit import ISSUER, RP, Browser, Login, client_key, decode_unverified, make_settings
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlmodel import col

from identity.clients.schemas import ClientIn
from identity.clients.service import create_client
from identity.crypto import Sealer
from identity.keys.models import SigningKey
from identity.keys.service import KeyStore
from identity.main import create_app
from identity.sessions.models import LoginSession
from servicekit.actor import Actor
from servicekit.db import Database
from servicekit.testing import fresh_database_url, migrated_database

OLD = "old-key-encryption-key-for-the-rotation-test"
NEW = "new-key-encryption-key-for-the-rotation-test"


@pytest.fixture
async def kek_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database of its own: these tests change what its rows are sealed with."""
    async with fresh_database_url("identity_kek", tmp_path) as url:
        db = await migrated_database("identity.migrations", url)
        yield db
        await db.dispose()


def app_with(db: Database, current: str, previous: list[str] | None = None) -> Any:
    settings = make_settings(
        db.url, key_encryption_key=current, previous_key_encryption_keys=previous or []
    )
    return create_app(settings, database=db)


def client_for(app: Any, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ISSUER, cookies=cookies
    )


async def register_rp(db: Database) -> RP:
    key = client_key(0)
    data = ClientIn(
        client_id="kek-rp",
        name="KEK rotation RP",
        grant_type="authorization_code",
        token_endpoint_auth_method="private_key_jwt",
        jwks=dict(KeySet([key]).as_dict(private=False)),
        redirect_uris=["https://rp.example.nl/callback"],
        allowed_scopes=["openid", "profile"],
        minimum_loa="http://eidas.europa.eu/LoA/low",
    )
    async with db.sessionmaker() as session:
        await create_client(session, data, Actor("test"))
    return RP(client_id="kek-rp", key=key)


async def rotate_kek_cli(db: Database, current: str, previous: list[str]) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "IDENTITY_DATABASE_URL": db.url,
        "IDENTITY_ENVIRONMENT": "test",
        "IDENTITY_KEY_ENCRYPTION_KEY": current,
        "IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS": json.dumps(previous),
        "OTEL_SDK_DISABLED": "true",
        "PYTHONWARNINGS": "ignore",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "identity", "rotate-kek"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


async def sealed(db: Database) -> dict[str, str]:
    async with db.sessionmaker() as session:
        keys = (await session.execute(select(SigningKey))).scalars().all()
        logins = (await session.execute(select(LoginSession))).scalars().all()
    return {
        **{f"key:{k.kid}": k.private_jwk_encrypted for k in keys},
        **{f"session:{s.id_hash}": s.attributes_encrypted for s in logins},
    }


async def test_rotate_kek_keeps_keys_sessions_and_tokens(kek_db: Database) -> None:
    old_app = app_with(kek_db, OLD)
    await old_app.state.identity.keys.ensure()
    rp = await register_rp(kek_db)
    async with client_for(old_app) as http:
        browser = Browser(http)
        login = await browser.login(rp, "digid", "digid-jan")
        tokens = (await browser.token(rp, login)).json()
        jwks = (await http.get("/auth/jwks")).json()
        cookies = http.cookies
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    before = await sealed(kek_db)
    assert len([k for k in before if k.startswith("session:")]) == 1

    # Step 1: workers run with the new key and still read the old one.
    async with client_for(app_with(kek_db, NEW, [OLD])) as http:
        assert (await http.get("/auth/userinfo", headers=access)).json()["given_name"] == "Jan"

    # Step 2: re-seal everything (the real command line).
    code, out, err = await rotate_kek_cli(kek_db, NEW, [OLD])
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["signing_keys_resealed"] == len([k for k in before if k.startswith("key:")])
    assert summary["login_sessions_resealed"] == 1
    after = await sealed(kek_db)
    assert after.keys() == before.keys()
    assert all(after[k] != before[k] for k in before)  # every ciphertext was replaced

    # The old key alone opens nothing any more; the new one alone opens everything.
    with pytest.raises(ValueError, match="decrypt"):
        await KeyStore(kek_db.sessionmaker, OLD, 3600).load(force=True)
    new_app = app_with(kek_db, NEW)
    await new_app.state.identity.keys.load(force=True)

    # Step 3: the new key only. Same published keys, old tokens verify, the person's
    # session (attributes re-sealed) still logs them in without asking again.
    async with client_for(new_app, cookies) as http:
        assert (await http.get("/auth/jwks")).json() == jwks
        info = await http.get("/auth/userinfo", headers=access)
        assert info.status_code == 200, info.text
        assert info.json()["family_name"] == "Jansen"
        browser = Browser(http)
        response, params, verifier = await browser.start(rp)
        assert response.status_code == 303
        assert "code=" in response.headers["location"]  # no login page: the session holds
        again = Login(response.headers["location"], verifier, params["nonce"], params["state"])
        body = (await browser.token(rp, again)).json()
        assert decode_unverified(body["id_token"])["given_name"] == "Jan"

    # Running it again finds nothing to do.
    code, out, err = await rotate_kek_cli(kek_db, NEW, [OLD])
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["signing_keys_resealed"] == 0
    assert summary["login_sessions_resealed"] == 0
    assert summary["login_sessions_already_current"] == 1


async def test_rotate_kek_is_all_or_nothing(kek_db: Database) -> None:
    old_app = app_with(kek_db, OLD)
    await old_app.state.identity.keys.ensure()
    rp = await register_rp(kek_db)
    async with client_for(old_app) as http:
        browser = Browser(http)
        await browser.login(rp, "digid", "digid-jan")
        await browser.login(rp, "eherkenning", "eh-utrecht-inkoop", prompt="login")
    # One session sealed with a key nobody configured (e.g. lost in an earlier rotation).
    stray = Sealer("a-key-nobody-has", "session-attributes").seal({"means": "digid"})
    async with kek_db.sessionmaker() as session, session.begin():
        first = (await session.execute(select(col(LoginSession.id_hash)))).scalars().first()
        await session.execute(
            update(LoginSession)
            .where(col(LoginSession.id_hash) == first)
            .values(attributes_encrypted=stray)
        )
    before = await sealed(kek_db)

    code, _out, err = await rotate_kek_cli(kek_db, NEW, [OLD])
    assert code != 0
    assert "1 login session(s) cannot be decrypted" in err
    assert "nothing was changed" in err
    assert await sealed(kek_db) == before  # not one signing key or session re-sealed
    await KeyStore(kek_db.sessionmaker, OLD, 3600).load(force=True)  # still the old key's
