"""The gateway's cache of verified tokens (servicekit's TokenVerifier keeps it): hits skip
the signature check, and an entry is never used past the token's expiry, its time in the
cache or after the signing key was withdrawn."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.main import create_app
from servicekit.auth import TokenVerifier
from servicekit.errors import Unauthorized
from servicekit.jwks import JwksCache
from servicekit.testing import TestIssuer


class Keys:
    """A JWKS endpoint whose published keys the test changes."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.published: dict[str, Any] = issuer.jwks()
        self.fetches = 0

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return self.published


def _gateway(issuer: TestIssuer, keys: Keys, *, max_age: float = 300.0, leeway: int = 30) -> Any:
    verifier = TokenVerifier(
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
    assert verifier.verifications == 1
    assert token in verifier
    # One byte more is another token: verified (and refused) on its own.
    with pytest.raises(Unauthorized):
        await app.gate.verify(token + "x")
    assert verifier.verifications == 2


async def test_an_entry_ends_at_the_tokens_expiry(issuer: TestIssuer) -> None:
    # No leeway, so that the verifier itself refuses the token right after exp.
    app, verifier = _gateway(issuer, Keys(issuer), leeway=0)
    # Three seconds: issuer.token sets exp = int(now) + lifetime, so a one-second token
    # could expire before its first use on a busy machine.
    token = issuer.token(scopes=["registry:read"], lifetime=3)
    payload = token.split(".")[1]
    exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    await app.gate.verify(token)
    await app.gate.verify(token)
    assert verifier.verifications == 1
    await asyncio.sleep(max(0.0, exp - time.time()) + 1.05)
    with pytest.raises(Unauthorized) as refused:
        await app.gate.verify(token)
    assert "expired" in refused.value.detail.lower()
    assert verifier.verifications == 2
    assert token not in verifier


async def test_a_withdrawn_key_ends_the_entry(issuer: TestIssuer) -> None:
    keys = Keys(issuer)
    app, verifier = _gateway(issuer, keys, max_age=0.2)
    token = issuer.token(scopes=["registry:read"])
    await app.gate.verify(token)
    await app.gate.verify(token)
    assert verifier.verifications == 1
    # The issuer rotates: a new key is published, the one that signed the token is gone.
    keys.published = TestIssuer().jwks()
    await asyncio.sleep(0.3)  # the gateway's copy of the keys is due for a refresh
    with pytest.raises(Unauthorized):
        await app.gate.verify(token)
    assert verifier.verifications == 2
    assert token not in verifier


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
    assert verifier.verifications == 2
    assert await app.gate.verify(token) is principal
    assert verifier.verifications == 2


def _verifier(issuer: TestIssuer, clock: Any, **cache: Any) -> TokenVerifier:
    return TokenVerifier(
        JwksCache(issuer.fetch_jwks),
        issuer=issuer.issuer,
        audience=issuer.audience,
        clock=clock,
        **cache,
    )


async def test_an_entry_lives_until_exp_or_cache_seconds(issuer: TestIssuer) -> None:
    now = [time.time()]
    verifier = _verifier(issuer, lambda: now[0], cache_seconds=60.0)
    short = issuer.token(scopes=["registry:read"], lifetime=10)
    long = issuer.token(scopes=["registry:read"], lifetime=3600)
    for token in (short, long):
        await verifier.principal(token)
        await verifier.principal(token)
    assert verifier.verifications == 2
    assert short in verifier
    assert long in verifier
    now[0] += 11.0  # past the short token's exp: verified in full again (not cached anew)
    await verifier.principal(short)
    await verifier.principal(long)
    assert verifier.verifications == 3
    assert short not in verifier
    now[0] += 50.0  # the long token's 60 s in the cache are over
    await verifier.principal(long)
    assert verifier.verifications == 4


async def test_the_cache_forgets_the_least_recently_used(issuer: TestIssuer) -> None:
    verifier = _verifier(issuer, time.time, cache_size=2)
    a, b, c = (issuer.token(scopes=["registry:read"], jti=name) for name in "abc")
    await verifier.principal(a)
    await verifier.principal(b)
    await verifier.principal(a)  # a is now the most recent
    await verifier.principal(c)
    assert b not in verifier
    assert a in verifier
    assert c in verifier
