"""Bearer-token verification: signature, algorithm, issuer, audience, expiry, scopes, JWKS refresh."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from servicekit.auth import Principal, TokenVerifier
from servicekit.errors import Unauthorized
from servicekit.jwks import JwksCache, http_jwks_fetcher
from servicekit.testing import TestIssuer


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_token_gives_a_principal(issuer: TestIssuer) -> None:
    token = issuer.token(
        sub="u1",
        scopes=["a", "b"],
        org_id="00000001001234567000",
        org_type="municipality",
        roles=["enroller"],
    )
    claims = await issuer.verifier().verify(token)
    principal = Principal.from_claims(claims)
    assert principal.subject == "u1"
    assert principal.scopes == {"a", "b"}
    assert principal.org_id == "00000001001234567000"
    assert principal.org_type == "municipality"
    assert principal.roles == {"enroller"}
    assert principal.client_id == "test-client"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lifetime": -120}, "expired"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"aud": "someone-else"}, "audience"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
    ],
)
async def test_claims_are_checked(issuer: TestIssuer, changes: dict, message: str) -> None:
    token = issuer.token(**changes)
    with pytest.raises(Unauthorized) as excinfo:
        await issuer.verifier().verify(token)
    assert message in excinfo.value.detail


async def test_alg_none_is_refused(issuer: TestIssuer) -> None:
    good = issuer.token()
    payload = good.split(".")[1]
    forged = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    with pytest.raises(Unauthorized, match="algorithm"):
        await issuer.verifier().verify(forged)


async def test_hs256_signed_with_the_public_key_is_refused(issuer: TestIssuer) -> None:
    # The classic key-confusion attack, built by hand (joserfc refuses to make it).
    public_pem = issuer.key.as_pem(private=False)
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "x",
        "exp": int(time.time()) + 60,
    }
    signing_input = f"{b64({'alg': 'HS256', 'kid': issuer.key.kid})}.{b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(Unauthorized, match="algorithm"):
        await issuer.verifier().verify(forged)


async def test_token_from_another_key_with_same_kid_is_refused(issuer: TestIssuer) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": issuer.key.kid})
    forged = jwt.encode(
        {"alg": "RS256", "kid": issuer.key.kid, "typ": "at+jwt"},
        {"iss": issuer.issuer, "aud": issuer.audience, "sub": "x", "exp": int(time.time()) + 60},
        other,
    )
    with pytest.raises(Unauthorized, match="signature"):
        await issuer.verifier().verify(forged)


@pytest.mark.parametrize("typ", [None, "JWT", "id+jwt"])
async def test_a_token_not_typed_at_jwt_is_refused(issuer: TestIssuer, typ: str | None) -> None:
    """RFC 9068 §4: an ID token (or any other JWT of the issuer) is no access token."""
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "x",
        "exp": int(time.time()) + 60,
    }
    header = {"alg": "RS256", "kid": issuer.key.kid, **({"typ": typ} if typ else {})}
    with pytest.raises(Unauthorized, match="at\\+jwt"):
        await issuer.verifier().verify(jwt.encode(header, claims, issuer.key))
    typed = jwt.encode({**header, "typ": "application/AT+JWT"}, claims, issuer.key)
    assert (await issuer.verifier().verify(typed))["sub"] == "x"


async def test_tampered_claims_are_refused(issuer: TestIssuer) -> None:
    header, _payload, signature = issuer.token(scopes=["read"]).split(".")
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "x",
        "exp": int(time.time()) + 60,
        "scope": "admin",
    }
    with pytest.raises(Unauthorized, match="signature"):
        await issuer.verifier().verify(f"{header}.{b64(claims)}.{signature}")


async def test_garbage_is_malformed(issuer: TestIssuer) -> None:
    for garbage in ("abc", "a.b.c", "", "ü.ü.ü"):
        with pytest.raises(Unauthorized):
            await issuer.verifier().verify(garbage)


async def test_unknown_kid_triggers_exactly_one_jwks_refresh() -> None:
    old = TestIssuer()
    served = {"keys": [old.key.as_dict(private=False)]}
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json=served)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    cache = JwksCache(http_jwks_fetcher("https://idp/jwks", client), min_refresh_interval=0)
    verifier = TokenVerifier(cache, issuer=old.issuer, audience=old.audience)
    await verifier.verify(old.token())
    await verifier.verify(old.token())
    assert calls == 1  # cached

    # Key rotation: the issuer publishes a new key; the first token with its kid refreshes once.
    new = TestIssuer()
    served = {"keys": [old.key.as_dict(private=False), new.key.as_dict(private=False)]}
    await verifier.verify(new.token())
    assert calls == 2
    await verifier.verify(new.token())
    assert calls == 2

    # A kid the issuer does not have: one refresh, then refused.
    stranger = TestIssuer()
    with pytest.raises(Unauthorized, match="unknown key"):
        await verifier.verify(stranger.token())
    assert calls == 3
    await client.aclose()


async def test_unknown_kid_floods_do_not_hammer_the_issuer(issuer: TestIssuer) -> None:
    cache = JwksCache(issuer.fetch_jwks, min_refresh_interval=60)
    verifier = TokenVerifier(cache, issuer=issuer.issuer, audience=issuer.audience)
    await verifier.verify(issuer.token())
    before = issuer.jwks_fetches
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await verifier.verify(TestIssuer().token())
    assert issuer.jwks_fetches == before  # refreshed at most once per interval


async def test_cached_keys_survive_an_issuer_outage(issuer: TestIssuer) -> None:
    healthy = True

    async def flaky() -> dict:
        if not healthy:
            raise httpx.ConnectError("down")
        return issuer.jwks()

    verifier = TokenVerifier(
        JwksCache(flaky, max_age=0, min_refresh_interval=0),
        issuer=issuer.issuer,
        audience=issuer.audience,
    )
    await verifier.verify(issuer.token())
    healthy = False
    assert (await verifier.verify(issuer.token()))["sub"] == "user-1"


def test_unsafe_algorithms_cannot_be_configured(issuer: TestIssuer) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        TokenVerifier(JwksCache(issuer.fetch_jwks), issuer="x", audience="y", algorithms=["HS256"])


async def test_endpoint_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/widgets")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


async def test_malformed_authorization_header_is_401(client: httpx.AsyncClient) -> None:
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "token"):
        response = await client.get("/v1/widgets", headers={"authorization": value})
        assert response.status_code == 401, value


async def test_expired_token_is_401_invalid_token(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    response = await client.get(
        "/v1/widgets", headers=issuer.headers(scopes=["demo:read"], lifetime=-100)
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_missing_scope_is_403_insufficient_scope(
    client: httpx.AsyncClient, reader: dict
) -> None:
    response = await client.post("/v1/widgets", json={"name": "a"}, headers=reader)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert response.json()["requiredScopes"] == ["demo:write"]


async def test_require_scopes_needs_every_scope(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    partial = issuer.headers(scopes=["demo:write"])
    response = await client.delete("/v1/widgets/1", headers=partial)
    assert response.status_code == 403
    assert response.json()["requiredScopes"] == ["demo:write", "demo:delete"]
    full = issuer.headers(scopes=["demo:write", "demo:delete"])
    assert (await client.delete("/v1/widgets/1", headers=full)).status_code == 204


async def test_stale_keys_and_a_slow_issuer_do_not_stall_every_request(issuer: TestIssuer) -> None:
    attempts = 0

    async def down_after_first() -> dict:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            raise httpx.ReadTimeout("slow issuer")
        return issuer.jwks()

    cache = JwksCache(down_after_first, max_age=0, min_refresh_interval=60)
    verifier = TokenVerifier(cache, issuer=issuer.issuer, audience=issuer.audience)
    for _ in range(5):
        assert (await verifier.verify(issuer.token()))["sub"] == "user-1"
    assert attempts == 1  # the stale cache is served; the issuer is asked once per interval


async def test_verified_tokens_are_remembered_until_they_expire(issuer: TestIssuer) -> None:
    verifier = TokenVerifier(
        JwksCache(issuer.fetch_jwks), issuer=issuer.issuer, audience=issuer.audience, leeway=0
    )
    token = issuer.token(scopes=["read"], lifetime=2)
    assert (await verifier.verify(token))["scope"] == "read"
    assert verifier.cache_hits == 0
    claims = await verifier.verify(token)
    assert verifier.cache_hits == 1
    claims["scope"] = "admin"  # callers get a copy: the cached claims cannot be changed
    assert (await verifier.verify(token))["scope"] == "read"
    # Past exp the entry is not used: the full check runs and refuses the token.
    await asyncio.sleep(max(0.0, token_exp(token) - time.time()) + 1.1)
    hits = verifier.cache_hits
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(token)
    assert verifier.cache_hits == hits


def token_exp(token: str) -> float:
    payload = token.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


async def test_remembered_tokens_expire_by_the_verifiers_clock(issuer: TestIssuer) -> None:
    now = [time.time()]
    verifier = TokenVerifier(
        JwksCache(issuer.fetch_jwks),
        issuer=issuer.issuer,
        audience=issuer.audience,
        clock=lambda: now[0],
    )
    token = issuer.token(lifetime=60)
    await verifier.verify(token)
    await verifier.verify(token)
    assert verifier.cache_hits == 1
    now[0] = token_exp(token)  # the cache stops at exp, the leeway is the full check's
    await verifier.verify(token)
    assert verifier.cache_hits == 1
    # A token already past exp (accepted within the leeway) is never remembered.
    late = issuer.token(lifetime=-5)
    now[0] = time.time()
    await verifier.verify(late)
    await verifier.verify(late)
    assert verifier.cache_hits == 1


async def test_remembered_tokens_are_dropped_when_their_key_is_withdrawn(
    issuer: TestIssuer,
) -> None:
    other = TestIssuer()
    served = {"keys": [issuer.key.as_dict(private=False)]}

    async def fetch() -> dict:
        return served

    cache = JwksCache(fetch, max_age=0, min_refresh_interval=0)
    verifier = TokenVerifier(cache, issuer=issuer.issuer, audience=issuer.audience)
    token = issuer.token()
    await verifier.verify(token)
    served = {"keys": [other.key.as_dict(private=False)]}  # the issuer withdrew the key
    with pytest.raises(Unauthorized, match="unknown key"):
        await verifier.verify(token)


async def test_remembered_tokens_answer_only_for_the_exact_token(issuer: TestIssuer) -> None:
    verifier = issuer.verifier()
    token = issuer.token(scopes=["read"])
    await verifier.verify(token)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(Unauthorized, match="signature"):
        await verifier.verify(forged)
    elevated = {**json.loads(base64.urlsafe_b64decode(payload + "==")), "scope": "admin"}
    with pytest.raises(Unauthorized, match="signature"):
        await verifier.verify(f"{header}.{b64(elevated)}.{signature}")
    small = TokenVerifier(
        JwksCache(issuer.fetch_jwks), issuer=issuer.issuer, audience=issuer.audience, cache_size=2
    )
    tokens = [issuer.token(sub=f"u{i}") for i in range(5)]
    for t in tokens:
        await small.verify(t)
    assert len(small._verified) == 2  # bounded, least recently used dropped
