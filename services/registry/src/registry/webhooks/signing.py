"""Delivery signatures after the Standard Webhooks specification (standardwebhooks.com).

``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`` where the
key is the base64 part of the ``whsec_…`` secret; receivers check the timestamp is recent
and compare signatures in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    payload = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())
