"""Signing-key rules without HTTP: each algorithm has one active key that signs and one
next key already published; a rotation signs only with a key that was published before it,
keeps the retired key published (and verifying) until its retention ends — longer than any
token it signed lives — and then stops publishing it; the JWKS lists the provider's keys
in creation order, the active encryption key before retired ones, never the simulators'
(a KeyStore on its own migrated database, so that rotating does not disturb the app)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from idkit import decode_unverified
from joserfc.jwk import RSAKey
from joserfc.jws import extract_compact
from pydantic import ValidationError
from sqlmodel import col, delete, select, update

from identity.config import Settings
from identity.keys.models import SigningKey
from identity.keys.service import JWKS_MAX_AGE_SECONDS, KeyStore
from servicekit.clock import aware, utcnow
from servicekit.db import Database
from servicekit.testing import fresh_database_url, migrated_database

KEK = "key-encryption-key-for-the-keys-tests"
RETENTION = 3600 + 300


@pytest.fixture(scope="module")
async def keys_database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    tmp: Path = tmp_path_factory.mktemp("identity-keys")
    async with fresh_database_url("identity_keys", tmp) as url:
        db = await migrated_database("identity.migrations", url)
        yield db
        await db.dispose()


@pytest.fixture
async def store(keys_database: Database) -> KeyStore:
    async with keys_database.sessionmaker() as session, session.begin():
        await session.execute(delete(SigningKey))
    keys = KeyStore(keys_database.sessionmaker, KEK, RETENTION)
    await keys.ensure()
    return keys


async def _rows(database: Database) -> dict[str, SigningKey]:
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(SigningKey))).scalars().all()
    return {r.kid: r for r in rows}


async def _kids(database: Database, status: str, purpose: str = "op") -> dict[str, str]:
    """alg → kid of the keys of this status."""
    rows = (await _rows(database)).values()
    return {r.alg: r.kid for r in rows if r.status == status and r.purpose == purpose}


async def _published(store: KeyStore) -> list[str]:
    return [k["kid"] for k in (await store.jwks())["keys"]]


async def _publish_earlier(database: Database) -> None:
    """Every key as if made a JWKS cache lifetime earlier (a rotation may then use the
    next keys; their order stays as it was)."""
    async with database.sessionmaker() as session, session.begin():
        for row in (await session.execute(select(SigningKey))).scalars():
            row.created_at = aware(row.created_at) - timedelta(seconds=JWKS_MAX_AGE_SECONDS + 1)


async def _signer(store: KeyStore, alg: str = "RS256") -> tuple[str, str]:
    """(token, kid that signed it)."""
    now = int(time.time())
    token = await store.sign({"iss": "test", "iat": now, "exp": now + 60}, alg)
    return token, str(extract_compact(token.encode()).protected["kid"])


async def test_each_algorithm_has_an_active_and_a_published_next_key(
    store: KeyStore, keys_database: Database
) -> None:
    rows = await _rows(keys_database)
    assert Counter((r.purpose, r.alg, r.status) for r in rows.values()) == {
        ("op", "RS256", "active"): 1, ("op", "RS256", "next"): 1,
        ("op", "PS256", "active"): 1, ("op", "PS256", "next"): 1,
        ("simulator", "RS256", "active"): 1, ("encryption", "RSA-OAEP-256", "active"): 1,
    }  # fmt: skip
    await store.ensure()  # idempotent: every start-up runs it
    assert (await _rows(keys_database)).keys() == rows.keys()
    active, nxt = await _kids(keys_database, "active"), await _kids(keys_database, "next")
    encryption = (await _kids(keys_database, "active", "encryption"))["RSA-OAEP-256"]
    # Creation order (each algorithm's active key, then its next), then the encryption key.
    assert await _published(store) == [
        active["RS256"], nxt["RS256"], active["PS256"], nxt["PS256"], encryption]  # fmt: skip
    simulator = (await _kids(keys_database, "active", "simulator"))["RS256"]
    assert [k["kid"] for k in (await store.simulator_jwks())["keys"]] == [simulator]
    assert (await _signer(store, "RS256"))[1] == active["RS256"]
    assert (await _signer(store, "PS256"))[1] == active["PS256"]
    assert all("d" not in k for k in (await store.jwks())["keys"])  # public halves only
    assert all(KEK not in r.private_jwk_encrypted for r in rows.values())


async def test_a_rotation_signs_with_a_key_published_before_it(
    store: KeyStore, keys_database: Database
) -> None:
    before = await _published(store)
    old_token, old_kid = await _signer(store)
    old_active, old_next = await _kids(keys_database, "active"), await _kids(keys_database, "next")
    old_encryption = (await _kids(keys_database, "active", "encryption"))["RSA-OAEP-256"]
    await _publish_earlier(keys_database)
    summary = await store.rotate(actor="test")
    new_next = await _kids(keys_database, "next")
    new_encryption = (await _kids(keys_database, "active", "encryption"))["RSA-OAEP-256"]
    assert (sorted(summary["activated"]), sorted(summary["retired"]), summary["removed"]) == (
        sorted(old_next.values()), sorted(old_active.values()), [])  # fmt: skip
    assert summary["encryption"] == {"activated": new_encryption, "retired": [old_encryption]}
    _, new_kid = await _signer(store)
    assert (new_kid, new_kid in before) == (old_next["RS256"], True)
    # The retired keys stay published (and verifying) and the new next keys are published;
    # the active encryption key comes before the retired one.
    assert await _published(store) == [
        old_active["RS256"], old_next["RS256"], old_active["PS256"], old_next["PS256"],
        new_next["RS256"], new_next["PS256"], new_encryption, old_encryption]  # fmt: skip
    assert decode_unverified(old_token) == await store.verify_own(old_token)
    retired = (await _rows(keys_database))[old_kid]
    assert aware(retired.retire_after) - aware(retired.retired_at) == timedelta(seconds=RETENTION)
    assert [k.kid for k in await store.decryption_keys()] == [new_encryption, old_encryption]


def test_a_retired_key_outlives_every_token_it_signed() -> None:
    settings = Settings(environment="test")
    longest = max(settings.access_token_lifetime, settings.id_token_lifetime)
    assert settings.key_retention_seconds > longest


def test_a_retention_shorter_than_a_token_lifetime_is_refused() -> None:
    with pytest.raises(ValidationError, match="IDENTITY_KEY_RETENTION_SECONDS"):
        Settings(environment="test", access_token_lifetime=3600, key_retention_seconds=600)
    with pytest.raises(ValidationError):  # the verifiers' leeway counts too
        Settings(environment="test", access_token_lifetime=3600, key_retention_seconds=3620)
    assert Settings(environment="test", access_token_lifetime=600, key_retention_seconds=960)


async def test_past_its_retention_a_key_is_no_longer_published(
    store: KeyStore, keys_database: Database
) -> None:
    old_token, old_kid = await _signer(store)
    await _publish_earlier(keys_database)
    summary = await store.rotate(actor="test")
    retired = sorted(summary["retired"] + summary["encryption"]["retired"])
    assert old_kid in retired
    async with keys_database.sessionmaker() as session, session.begin():
        await session.execute(update(SigningKey).where(col(SigningKey.status) == "retired")
                              .values(retire_after=utcnow() - timedelta(seconds=1)))  # fmt: skip
    await store.load(force=True)
    # Not published even before it is pruned: its tokens stop verifying.
    assert old_kid not in await _published(store)
    with pytest.raises(ValueError, match="invalid token"):
        await store.verify_own(old_token)
    assert len(await store.decryption_keys()) == 1
    removed = await store.prune(actor="test")
    assert sorted(removed) == retired  # RS256, PS256 and the encryption key
    assert (await _rows(keys_database))[old_kid].status == "removed"
    assert await store.prune(actor="test") == []


async def test_without_a_next_key_a_rotation_only_publishes_one(
    store: KeyStore, keys_database: Database
) -> None:
    active = await _kids(keys_database, "active")
    next_rs256 = (await _kids(keys_database, "next"))["RS256"]
    async with keys_database.sessionmaker() as session, session.begin():
        await session.execute(update(SigningKey).where(col(SigningKey.kid) == next_rs256)
                              .values(status="removed"))  # fmt: skip
    summary: dict[str, Any] = await store.rotate(actor="test")
    fresh = (await _kids(keys_database, "next"))["RS256"]
    assert fresh in summary["published"]
    assert active["RS256"] not in summary["retired"]
    # RS256 keeps signing with the key it had until the new one has been published.
    assert (await _signer(store))[1] == active["RS256"]
    assert fresh in await _published(store)
    await _publish_earlier(keys_database)
    await store.rotate(actor="test")
    assert (await _signer(store))[1] == fresh


async def test_a_next_key_signs_only_after_a_jwks_cache_lifetime(
    store: KeyStore, keys_database: Database
) -> None:
    # Published moments ago: a verifier holding the JWKS from before cannot know it yet.
    active, nxt = await _kids(keys_database, "active"), await _kids(keys_database, "next")
    summary = await store.rotate(actor="test")
    assert (summary["activated"], summary["retired"], sorted(summary["waiting"])) == (
        [], [], sorted(nxt.values()))  # fmt: skip
    assert summary["published"] == []  # no further next key either
    assert (await _kids(keys_database, "active"), await _kids(keys_database, "next")) == (
        active, nxt)  # fmt: skip
    assert (await _signer(store))[1] == active["RS256"]
    # After a leak the operator may activate them at once.
    summary = await store.rotate(actor="test", at_once=True)
    assert sorted(summary["activated"]) == sorted(nxt.values())
    assert (await _signer(store))[1] == nxt["RS256"]
    # A cache lifetime after publication a rotation goes ahead by itself.
    await _publish_earlier(keys_database)
    assert sorted((await store.rotate(actor="test"))["retired"]) == sorted(nxt.values())


async def test_a_reload_imports_only_keys_it_has_not_imported(
    store: KeyStore, keys_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Importing an RSA key validates it (tens of milliseconds of the event loop); every
    # worker reloads its keys every ttl seconds, so unchanged keys are reused.
    first = await store.load(force=True)
    imported: list[str | None] = []
    real_import = RSAKey.import_key

    def counting_import(value: Any, *args: Any, **kwargs: Any) -> RSAKey:
        key = real_import(value, *args, **kwargs)
        imported.append(key.kid)
        return key

    monkeypatch.setattr(RSAKey, "import_key", counting_import)
    again = await store.load(force=True)
    assert imported == []
    assert again.signing["RS256"] is first.signing["RS256"]
    assert again.decryption == first.decryption
    # A rotation brings new active keys: those (and only those) are imported, and sign.
    await _publish_earlier(keys_database)
    summary = await store.rotate(actor="test")
    rotated = await store.load(force=True)
    new_encryption = summary["encryption"]["activated"]
    assert sorted(imported) == sorted([*summary["activated"], new_encryption])
    assert (await _signer(store))[1] in summary["activated"]
    assert rotated.decryption[0].kid == new_encryption
