"""The gateway's cache of verified tokens: hits skip the signature check, and an entry is
never used past the token's expiry or after the signing key was withdrawn."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.main import create_app
from gateway.tokens import TokenCache
from servicekit.auth import JwksCache, Principal, TokenVerifier
from servicekit.errors import Unauthorized
from servicekit.testing import TestIssuer


class Keys:
    """A JWKS endpoint whose published keys the test changes."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.published: dict[str, Any] = issuer.jwks()
        self.fetches = 0

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return self.published


class CountingVerifier(TokenVerifier):
    calls = 0

    async def verify(self, token: str) -> dict[str, Any]:
        self.calls += 1
        return await super().verify(token)


def _gateway(issuer: TestIssuer, keys: Keys, *, max_age: float = 300.0, leeway: int = 30) -> Any:
    verifier = CountingVerifier(
        JwksCache(keys.fetch, max_age=max_age, min_refresh_interval=0.0),
        issuer=issuer.issuer,
        audience=issuer.audience,
        leeway=leeway,
    )
    settings = Settings(
        environment="test", log_json=False, log_level="WARNING", auth_issuer=issuer.issuer
    )
    app: Gateway = create_app(settings, token_verifier=verifier)
    return app, verifier


async def test_a_hit_skips_the_signature_check(issuer: TestIssuer) -> None:
    app, verifier = _gateway(issuer, Keys(issuer))
    token = issuer.token(scopes=["registry:read"])
    first = await app.gate.verify(token)
    second = await app.gate.verify(token)
    assert second is first
    assert verifier.calls == 1
    assert token in app.gate.tokens
    # One byte more is another token: verified (and refused) on its own.
    with pytest.raises(Unauthorized):
        await app.gate.verify(token + "x")
    assert verifier.calls == 2


async def test_an_entry_ends_at_the_tokens_expiry(issuer: TestIssuer) -> None:
    # No leeway, so that the verifier itself refuses the token right after exp.
    app, verifier = _gateway(issuer, Keys(issuer), leeway=0)
    token = issuer.token(scopes=["registry:read"], lifetime=1)
    await app.gate.verify(token)
    await app.gate.verify(token)
    assert verifier.calls == 1
    exp = int(time.time()) + 1  # issuer.token: exp = int(now) + lifetime, at most this
    await asyncio.sleep(max(0.0, exp - time.time()) + 1.05)
    with pytest.raises(Unauthorized) as refused:
        await app.gate.verify(token)
    assert "expired" in refused.value.detail.lower()
    assert verifier.calls == 2
    assert token not in app.gate.tokens


async def test_a_withdrawn_key_ends_the_entry(issuer: TestIssuer) -> None:
    keys = Keys(issuer)
    app, verifier = _gateway(issuer, keys, max_age=0.2)
    token = issuer.token(scopes=["registry:read"])
    await app.gate.verify(token)
    await app.gate.verify(token)
    assert verifier.calls == 1
    # The issuer rotates: a new key is published, the one that signed the token is gone.
    keys.published = TestIssuer().jwks()
    await asyncio.sleep(0.3)  # the gateway's copy of the keys is due for a refresh
    with pytest.raises(Unauthorized):
        await app.gate.verify(token)
    assert verifier.calls == 2
    assert token not in app.gate.tokens


async def test_a_refreshed_key_set_that_still_has_the_key_reverifies_once(
    issuer: TestIssuer,
) -> None:
    keys = Keys(issuer)
    app, verifier = _gateway(issuer, keys, max_age=0.2)
    token = issuer.token(scopes=["registry:read"])
    await app.gate.verify(token)
    await asyncio.sleep(0.3)
    principal = await app.gate.verify(token)  # new key set object: verified again, passes
    assert principal.client_id == "test-client"
    assert verifier.calls == 2
    assert await app.gate.verify(token) is principal
    assert verifier.calls == 2


def _principal() -> Principal:
    return Principal.from_claims({"sub": "s", "azp": "c", "scope": "registry:read"})


def test_cache_bounds_lifetime_by_exp_and_max_seconds() -> None:
    now = [1000.0]
    wall = [5000.0]
    cache = TokenCache(60.0, clock=lambda: now[0], wall_clock=lambda: wall[0])
    cache.put("a", {"exp": 5010}, _principal(), "k", object())  # 10 s left
    cache.put("b", {"exp": 9000}, _principal(), "k", object())  # capped at 60 s
    cache.put("c", {"exp": 4999}, _principal(), "k", object())  # already expired
    cache.put("d", {}, _principal(), "k", object())  # no exp: never cached
    assert "a" in cache
    assert "b" in cache
    assert "c" not in cache
    assert "d" not in cache
    now[0] += 10.0
    assert cache.get("a") is None
    assert cache.get("b") is not None
    now[0] += 50.0
    assert cache.get("b") is None


def test_cache_forgets_the_least_recently_used() -> None:
    cache = TokenCache(60.0, max_entries=2)
    exp = {"exp": time.time() + 100}
    cache.put("a", exp, _principal(), "k", None)
    cache.put("b", exp, _principal(), "k", None)
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", exp, _principal(), "k", None)
    assert "b" not in cache
    assert "a" in cache
    assert "c" in cache
    assert len(cache) == 2
