"""Encryption at rest (Fernet: AES-128-CBC + HMAC-SHA256) with keys derived from settings.

Private signing keys and personal attributes are stored only in this encrypted form.
Different purposes get different derived keys, so one ciphertext cannot be replayed as
another kind.

A Sealer may be given earlier key-encryption keys too (IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS,
during a rotation of the key-encryption key): it seals with the current key only and opens
with any of them (Fernet's MultiFernet). ``python -m identity rotate-kek`` re-seals what
is stored (kek.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _fernet(secret: str, purpose: str) -> Fernet:
    digest = hashlib.sha256(f"samen-identity/{purpose}\x00{secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class Sealer:
    def __init__(self, secret: str | Sequence[str], purpose: str) -> None:
        """``secret``: the key-encryption key, or [current, *previous] ones."""
        secrets = [secret] if isinstance(secret, str) else list(dict.fromkeys(secret))
        if not secrets or not all(secrets):
            raise ValueError("a key-encryption key is required")
        fernets = [_fernet(s, purpose) for s in secrets]
        self._fernet: Fernet | MultiFernet = (
            fernets[0] if len(fernets) == 1 else MultiFernet(fernets)
        )
        self._current = fernets[0]

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()

    def open(self, token: str, ttl: int | None = None) -> dict[str, Any]:
        """Decrypt; raises ``ValueError`` when tampered with, foreign or older than ``ttl``."""
        try:
            raw = self._fernet.decrypt(token.encode(), ttl=ttl)
        except (InvalidToken, ValueError) as exc:
            raise ValueError("cannot decrypt") from exc
        data: dict[str, Any] = json.loads(raw)
        return data

    def is_current(self, token: str) -> bool:
        """Whether ``token`` was sealed with the current key (not an earlier one)."""
        try:
            self._current.decrypt(token.encode())
        except (InvalidToken, ValueError):
            return False
        return True
