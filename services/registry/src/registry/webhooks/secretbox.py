"""Webhook signing secrets encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, from
``cryptography``).

The dispatcher needs each secret in clear to sign deliveries, so it cannot be hashed;
the database holds ``enc1:<Fernet token>`` instead, sealed with
``REGISTRY_WEBHOOK_SECRET_KEY``. Keys rotate: put the new key there and the old one in
``REGISTRY_PREVIOUS_WEBHOOK_SECRET_KEYS`` (JSON list); old tokens still open, new ones
are sealed with the new key. Outside production a fixed development key is used; the
service refuses to start in production with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import text

PREFIX = "enc1:"
# Development and tests only (public, in the source): never accepted in production.
DEV_WEBHOOK_SECRET_KEY = "c2FtZW4tcmVnaXN0cnktZGV2LXdlYmhvb2sta2V5ISE="  # noqa: S105


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys opens (or one stored in clear)."""


class SecretBox:
    def __init__(self, key: str, previous: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([Fernet(k.encode()) for k in (key, *previous)])

    def seal(self, secret: str) -> str:
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def reseal(self, stored: str) -> str:
        """The same secret sealed with the current key (raises SecretUnreadable)."""
        if not stored.startswith(PREFIX):
            raise SecretUnreadable("the secret is not stored encrypted")
        try:
            return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key opens the secret") from exc

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            raise SecretUnreadable("the secret is not stored encrypted")
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key opens the secret") from exc


@lru_cache(maxsize=4)
def _box(key: str, previous: tuple[str, ...]) -> SecretBox:
    return SecretBox(key, previous)


def secret_box(settings: Any) -> SecretBox:
    """The box for these settings (``webhook_secret_key`` and the previous keys)."""
    return _box(settings.webhook_secret_key, tuple(settings.previous_webhook_secret_keys))


def seal_plaintext_rows(connection: Any, box: SecretBox) -> int:
    """Encrypt every secret still stored in clear (migration 0008); returns how many."""
    rows = connection.execute(
        text("SELECT id, secret FROM webhook_subscriptions WHERE secret NOT LIKE 'enc1:%'")
    ).all()
    for row_id, secret in rows:
        connection.execute(
            text("UPDATE webhook_subscriptions SET secret = :secret WHERE id = :id"),
            {"secret": box.seal(secret), "id": row_id},
        )
    return len(rows)
