"""A cache of verified bearer tokens, so a client's repeated calls with one token cost a
dictionary lookup instead of a signature check (an RSA verification is most of the
gateway's auth cost).

Why it is correct:

- The key is the exact token string: a different token (even one byte) is verified anew.
- An entry expires at the token's ``exp`` (without the verifier's leeway) or after
  ``max_seconds``, whichever is first; after that the token is verified again, and an
  expired token is refused.
- An entry is tied to the key set it was verified with: :class:`servicekit.auth.JwksCache`
  hands out the same ``KeySet`` object until it refreshes the issuer's keys (at the
  latest every ``max_age``, and when an unknown ``kid`` shows up). A hit is used only
  while the cache still returns that very object; after any refresh the token is
  verified again against the new keys, so a token whose signing key was withdrawn is
  refused as soon as the gateway has seen the key go — the same moment the uncached path
  would notice.
- A token identity has revoked since is verified again, which refuses it.
- Size-bounded (least recently used entries go first).

Scopes and the route's rules are checked on every request against the cached
principal; rate limits are charged per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from servicekit.auth import Principal


@dataclass(frozen=True, slots=True)
class CachedToken:
    principal: Principal
    kid: str | None
    keys: Any  # the KeySet the signature was verified with
    deadline: float  # time.monotonic() after which the entry is no longer used


class TokenCache:
    def __init__(
        self,
        max_seconds: float,
        max_entries: int = 10_000,
        clock: Any = time.monotonic,
        wall_clock: Any = time.time,
    ) -> None:
        self.max_seconds = max_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._entries: LRUCache[str, CachedToken] = LRUCache(max_entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        return token in self._entries

    def get(self, token: str) -> CachedToken | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry.deadline <= self._clock():
            del self._entries[token]
            return None
        return entry

    def discard(self, token: str) -> None:
        self._entries.pop(token, None)

    def put(
        self, token: str, claims: dict[str, Any], principal: Principal, kid: str | None, keys: Any
    ) -> None:
        """Remember a token verified with ``keys``, until its ``exp`` at the latest."""
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return  # the verifier requires exp; without one, never cache
        ttl = min(self.max_seconds, float(exp) - self._wall_clock())
        if ttl <= 0:
            return
        self._entries[token] = CachedToken(principal, kid, keys, self._clock() + ttl)


def token_kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS's protected header (None when absent or unreadable:
    the token is then verified in full, which refuses it if it is malformed)."""
    from joserfc.jws import extract_compact

    try:
        kid = extract_compact(token.encode("ascii")).protected.get("kid")
    except Exception:  # anything unreadable: no kid, and the verifier will say why
        return None
    return kid if isinstance(kid, str) else None


def key_published(keys: Any, kid: str) -> bool:
    """Does the key set hold a key with this ``kid``?"""
    try:
        keys.get_by_kid(kid)
    except Exception:  # joserfc's InvalidKeyIdError, or a key set of another shape
        return False
    return True
