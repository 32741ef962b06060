"""Rotation of the key-encryption key (IDENTITY_KEY_ENCRYPTION_KEY).

Everything sealed with it at rest is re-sealed with the current key in one transaction:
the private signing keys and the login sessions' personal attributes. Each is opened with
any configured key (the current one and IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS); if even
one cannot be opened, nothing is changed. Simulator codes are sealed too, but live 60 s
in URLs and are never stored: the previous key keeps opening them during the rotation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from .audit.repository import add_audit
from .crypto import Sealer
from .keys.models import SigningKey
from .sessions.models import LoginSession


class KekRotationError(Exception):
    """Stored data that none of the configured key-encryption keys opens."""


async def rotate_kek(
    sessionmaker: async_sessionmaker[AsyncSession], keys: list[str], actor: str = "cli"
) -> dict[str, Any]:
    """Re-seal every stored secret with ``keys[0]``; ``keys[1:]`` are only read.

    All or nothing: one transaction, and it writes only after every row was opened."""
    signing = Sealer(keys, "signing-keys")
    attributes = Sealer(keys, "session-attributes")
    async with sessionmaker() as session, session.begin():
        key_rows = (
            await session.execute(
                select(col(SigningKey.kid), col(SigningKey.private_jwk_encrypted))
            )
        ).all()
        session_rows = (
            await session.execute(
                select(col(LoginSession.id_hash), col(LoginSession.attributes_encrypted))
            )
        ).all()
        key_updates, key_current, key_failed = _reseal(signing, key_rows)
        session_updates, session_current, session_failed = _reseal(attributes, session_rows)
        if key_failed or session_failed:
            raise KekRotationError(
                f"{len(key_failed)} signing key(s) (kid {', '.join(key_failed[:5])}) and "
                f"{len(session_failed)} login session(s) cannot be decrypted with any "
                "configured key-encryption key; nothing was changed. Put the key they were "
                "sealed with in IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS (or run `purge` first "
                "if they are expired sessions)."
            )
        if key_updates:
            await session.execute(
                update(SigningKey),
                [{"kid": k, "private_jwk_encrypted": v} for k, v in key_updates],
            )
        if session_updates:
            await session.execute(
                update(LoginSession),
                [{"id_hash": k, "attributes_encrypted": v} for k, v in session_updates],
            )
        summary = {
            "signing_keys_resealed": len(key_updates),
            "signing_keys_already_current": key_current,
            "login_sessions_resealed": len(session_updates),
            "login_sessions_already_current": session_current,
        }
        add_audit(session, actor=actor, action="kek.rotated", subject="at-rest", detail=summary)
    return summary


def _reseal(sealer: Sealer, rows: Any) -> tuple[list[tuple[str, str]], int, list[str]]:
    """(re-sealed (id, ciphertext) pairs, how many were already current, ids that fail)."""
    updates: list[tuple[str, str]] = []
    current = 0
    failed: list[str] = []
    for row_id, sealed in rows:
        if sealer.is_current(sealed):
            current += 1
            continue
        try:
            updates.append((row_id, sealer.seal(sealer.open(sealed))))
        except ValueError:
            failed.append(str(row_id)[:16])
    return updates, current, failed
