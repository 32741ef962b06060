"""Redirect URI rules (RFC 8252 §7.3, §8.3) and the limit on failed client
authentication, as pure functions."""

from __future__ import annotations

import pytest

from identity.clients.auth_limits import FailedAuthLimiter, TooManyFailures
from identity.clients.redirect_uris import (
    origin_of,
    redirect_uri_problem,
    redirect_uri_registered,
)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://localhost:8080/cb", "localhost"),
        ("https://localhost/cb", "localhost"),
        ("http://app.localhost/cb", "localhost"),
        ("http://rp.example.nl/cb", "https"),
        ("http://10.0.0.1/cb", "https"),
        ("https://rp.example.nl/cb#x", "fragment"),
        ("https://user@rp.example.nl/cb", "user information"),
        ("ftp://rp.example.nl/cb", "absolute"),
        ("/cb", "absolute"),
        ("https://rp.example.nl:99999/cb", "absolute"),
    ],
)
def test_refused_redirect_uris(uri: str, reason: str) -> None:
    problem = redirect_uri_problem(uri, production=False, native=True)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    "uri",
    [
        "https://rp.example.nl/cb",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
    ],
)
def test_accepted_redirect_uris(uri: str) -> None:
    assert redirect_uri_problem(uri, production=False, native=False) is None


def test_production_allows_loopback_only_for_native_apps() -> None:
    assert redirect_uri_problem("http://127.0.0.1/cb", production=True, native=True) is None
    problem = redirect_uri_problem("http://127.0.0.1/cb", production=True, native=False)
    assert problem is not None
    assert "https" in problem
    assert redirect_uri_problem("https://rp.example.nl/cb", production=True, native=False) is None


def test_loopback_redirects_match_on_any_port() -> None:
    registered = ["http://127.0.0.1/cb", "http://[::1]:7000/cb?x=1", "https://rp.example.nl/cb"]
    assert redirect_uri_registered("http://127.0.0.1:51234/cb", registered)
    assert redirect_uri_registered("http://127.0.0.1/cb", registered)
    assert redirect_uri_registered("http://[::1]:9/cb?x=1", registered)
    assert not redirect_uri_registered("http://127.0.0.1:51234/other", registered)
    assert not redirect_uri_registered("http://[::1]:9/cb", registered)
    assert not redirect_uri_registered("http://localhost:51234/cb", registered)
    assert not redirect_uri_registered("https://rp.example.nl:444/cb", registered)
    assert not redirect_uri_registered("http://127.0.0.1:1@evil.example/cb", registered)


def test_origins() -> None:
    assert origin_of("https://rp.example.nl/cb?x") == "https://rp.example.nl"
    assert origin_of("https://rp.example.nl:443/cb") == "https://rp.example.nl"
    assert origin_of("http://127.0.0.1:8080/cb") == "http://127.0.0.1:8080"
    assert origin_of("http://[::1]:8080/cb") == "http://[::1]:8080"
    assert origin_of("com.example.app:/cb") is None


async def test_failed_client_authentication_is_limited() -> None:
    now = [0.0]
    limiter = FailedAuthLimiter(limit=3, window=60.0, clock=lambda: now[0])
    for _ in range(3):
        await limiter.check("rp")
        await limiter.failed("rp")
    with pytest.raises(TooManyFailures) as refused:
        await limiter.check("rp")
    assert refused.value.retry_after == 60
    await limiter.check("other-rp")  # per client id
    now[0] = 61.0
    await limiter.check("rp")  # the window has passed


async def test_failed_client_authentication_is_shared_through_redis() -> None:
    """Two workers (or replicas) with IDENTITY_REDIS_URL count failures together."""
    import uuid

    client_id = f"rp-{uuid.uuid4().hex[:8]}"
    first = FailedAuthLimiter(limit=2, window=30.0, redis_url="redis://127.0.0.1:6379/0")
    second = FailedAuthLimiter(limit=2, window=30.0, redis_url="redis://127.0.0.1:6379/0")
    try:
        try:
            await first._redis.ping()
        except Exception:
            pytest.skip("no Redis at 127.0.0.1:6379")
        await first.failed(client_id)
        await second.failed(client_id)
        with pytest.raises(TooManyFailures) as refused:
            await first.check(client_id)  # over the limit although it saw one failure
        assert 0 < refused.value.retry_after <= 30
    finally:
        await first.aclose()
        await second.aclose()
