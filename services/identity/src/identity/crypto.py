"""Encryption at rest (Fernet: AES-128-CBC + HMAC-SHA256) with keys derived from settings.

Private signing keys and personal attributes are stored only in this encrypted form.
Different purposes get different derived keys, so one ciphertext cannot be replayed as
another kind.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class Sealer:
    def __init__(self, secret: str, purpose: str) -> None:
        digest = hashlib.sha256(f"samen-identity/{purpose}\x00{secret}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

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
