"""Security at the edge: every auth failure mode, scopes per route, public routes, rate
limits (memory and Redis), body and header limits, CORS, security headers, bad input."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from gateway_testkit import GatewayFactory, RunningGateway

from gateway.ratelimit import MemoryRateLimiter, Policy, RedisRateLimiter
from servicekit.testing import TestIssuer

REDIS_URL = "redis://127.0.0.1:6379/15"


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ---------------------------------------------------------------- authentication
async def test_missing_token_is_401_without_error_code(gw: RunningGateway) -> None:
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/things")
    _problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="samen"'


@pytest.mark.parametrize("value", ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "Token abc"])
async def test_malformed_authorization_is_401_invalid_request(
    gw: RunningGateway, value: str
) -> None:
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/things", headers={"Authorization": value})
    _problem(response, 401)
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_request"')


def _bad_tokens(issuer: TestIssuer) -> dict[str, str]:
    other_key = TestIssuer(issuer=issuer.issuer)  # same issuer name, unknown key
    other_issuer = TestIssuer(issuer="https://evil.example")
    good = issuer.token(scopes=["registry:read"])
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "registry:read registry:write"
    return {
        "garbage": "not-a-jwt",
        "expired": issuer.token(scopes=["registry:read"], lifetime=-120),
        "not-yet-valid": issuer.token(scopes=["registry:read"], nbf=10**10),
        "wrong-audience": issuer.token(scopes=["registry:read"], aud="someone-else"),
        "wrong-issuer": other_issuer.token(scopes=["registry:read"]),
        "unknown-key": other_key.token(scopes=["registry:read"]),
        "alg-none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + ".",
        "alg-hs256": _b64({"alg": "HS256", "kid": issuer.key.kid})
        + "."
        + payload
        + "."
        + signature,
        "tampered": header + "." + _b64(claims) + "." + signature,
    }


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "expired",
        "not-yet-valid",
        "wrong-audience",
        "wrong-issuer",
        "unknown-key",
        "alg-none",
        "alg-hs256",
        "tampered",
    ],
)
async def test_invalid_tokens_are_401_invalid_token(
    gw: RunningGateway, issuer: TestIssuer, case: str
) -> None:
    token = _bad_tokens(issuer)[case]
    async with gw.client() as client:
        response = await client.get(
            "/api/registry/v1/things", headers={"Authorization": f"Bearer {token}"}
        )
    body = _problem(response, 401)
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "Traceback" not in body["detail"]


async def test_valid_token_is_verified_once_then_cached(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    token = issuer.token(scopes=["registry:read"])
    async with gw.client() as client:
        for _ in range(3):
            response = await client.get(
                "/api/registry/v1/things", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
    verifier = gw.app.gate.verifier
    assert token in verifier
    assert verifier.verifications == 1


# ---------------------------------------------------------------- scopes per route
SCOPE_CASES = [
    # method, path, scope that suffices, scope that does not
    ("GET", "/api/registry/v1/things", "registry:read", "registry:write"),
    ("HEAD", "/api/registry/v1/things", "registry:read", "procurement:read"),
    ("POST", "/api/registry/v1/echo", "registry:write", "registry:read"),
    ("PUT", "/api/registry/v1/echo/x", "registry:write", "registry:read"),
    ("PATCH", "/api/registry/v1/echo/x", "registry:write", "registry:read"),
    ("DELETE", "/api/registry/v1/echo/x", "registry:write", "registry:read"),
    ("GET", "/api/procurement/v1/echo", "procurement:read", "registry:read"),
    (
        "POST",
        "/api/procurement/v1/tenders/t1/enrollments",
        "procurement:enroll",
        "procurement:manage",
    ),
    (
        "PATCH",
        "/api/procurement/v1/tenders/t1/enrollments",
        "procurement:enroll",
        "procurement:read",
    ),
    ("POST", "/api/procurement/v1/echo", "procurement:manage", "procurement:enroll"),
    ("PATCH", "/api/procurement/v1/tenders/t1", "procurement:manage", "procurement:enroll"),
]


@pytest.mark.parametrize(("method", "path", "good", "bad"), SCOPE_CASES)
async def test_scopes_per_route(
    gw: RunningGateway, issuer: TestIssuer, method: str, path: str, good: str, bad: str
) -> None:
    async with gw.client() as client:
        allowed = await client.request(method, path, headers=issuer.headers(scopes=[good]))
        refused = await client.request(method, path, headers=issuer.headers(scopes=[bad]))
    assert allowed.status_code == 200
    assert refused.status_code == 403
    if method != "HEAD":
        body = _problem(refused, 403)
        assert body["requiredScopes"] == [good]
    assert refused.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{good}"'
    )


async def test_public_routes_need_no_token(gw: RunningGateway) -> None:
    async with gw.client() as client:
        for path in (
            "/api/registry/v1/openapi.json",
            "/api/procurement/v1/openapi.json",
            "/.well-known/openid-configuration",
            "/health/live",
            "/docs",
        ):
            assert (await client.get(path)).status_code == 200, path
        # Writes to a docs path are not public.
        _problem(await client.post("/api/registry/v1/openapi.json"), 401)


async def test_identity_api_passes_token_through_and_lets_identity_decide(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    token = issuer.token(scopes=["openid"])
    async with gw.client() as client:
        anonymous = await client.get("/api/identity/v1/echo")
        with_token = await client.post(
            "/api/identity/v1/echo", headers={"Authorization": f"Bearer {token}"}
        )
        bad_token = await client.get(
            "/api/identity/v1/echo", headers={"Authorization": "Bearer nope"}
        )
    assert anonymous.status_code == 200
    assert "authorization" not in {k.lower() for k, _ in anonymous.json()["headers"]}
    assert with_token.status_code == 200
    assert dict(with_token.json()["headers"])["Authorization"] == f"Bearer {token}"
    _problem(bad_token, 401)


# ---------------------------------------------------------------- rate limits
async def test_rate_limit_per_client_in_memory(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    async with gateway_factory(rate_limit_per_second=0.5, rate_limit_burst=3) as gw:
        first = issuer.headers(scopes=["registry:read"], azp="client-a")
        other = issuer.headers(scopes=["registry:read"], azp="client-b")
        async with gw.client() as client:
            statuses = []
            for _ in range(4):
                response = await client.get("/api/registry/v1/things", headers=first)
                statuses.append(response.status_code)
            b = await client.get("/api/registry/v1/things", headers=other)
        assert statuses == [200, 200, 200, 429]
        limited = _problem(response, 429)
        assert limited["title"] == "Too Many Requests"
        assert response.headers["retry-after"] == "2"
        assert response.headers["ratelimit-limit"] == "3"
        assert response.headers["ratelimit-remaining"] == "0"
        assert response.headers["ratelimit-policy"] == "3;w=6"
        assert b.status_code == 200  # buckets are per client
        assert b.headers["ratelimit-remaining"] == "2"
        metrics = (await gw.client().get("/metrics")).text
        assert 'gateway_rate_limited_total{route="registry"} 1.0' in metrics


async def test_a_client_acting_for_people_has_a_bucket_per_person(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    """A portal's users do not share one budget: one person using theirs up leaves the
    others theirs; a new token of the same person draws from the same bucket."""
    async with gateway_factory(rate_limit_per_second=0.5, rate_limit_burst=2) as gw:

        def person(sub: str) -> dict[str, str]:
            return issuer.headers(scopes=["registry:read"], azp="samen-portal", sub=sub)

        async with gw.client() as client:
            anna = [
                (await client.get("/api/registry/v1/things", headers=person("anna"))).status_code
                for _ in range(3)
            ]
            bram = await client.get("/api/registry/v1/things", headers=person("bram"))
        assert anna == [200, 200, 429]
        assert bram.status_code == 200
        assert bram.headers["ratelimit-remaining"] == "1"


def test_bucket_keys_never_hold_the_subject_itself() -> None:
    from gateway.auth import client_bucket
    from servicekit.auth import Principal

    def principal(sub: str, client: str) -> Principal:
        return Principal(subject=sub, client_id=client, scopes=frozenset())

    key = client_bucket(principal("999990019", "samen-portal"))
    assert "999990019" not in key
    assert key.startswith("azp:samen-portal:sub:")
    assert key == client_bucket(principal("999990019", "samen-portal"))
    assert key != client_bucket(principal("999990020", "samen-portal"))
    # A client acting for itself (client credentials) has one bucket.
    assert client_bucket(principal("batch-job", "batch-job")) == "azp:batch-job"


async def test_anonymous_calls_are_limited_per_ip(gateway_factory: GatewayFactory) -> None:
    async with (
        gateway_factory(rate_limit_anonymous_per_second=0.1, rate_limit_anonymous_burst=2) as gw,
        gw.client() as client,
    ):
        codes = [
            (await client.get("/.well-known/openid-configuration")).status_code for _ in range(3)
        ]
    assert codes == [200, 200, 429]


async def test_failed_authentication_spends_the_ip_budget(
    gateway_factory: GatewayFactory,
) -> None:
    limits = {"rate_limit_anonymous_per_second": 0.1, "rate_limit_anonymous_burst": 2}
    async with gateway_factory(**limits) as gw, gw.client() as client:
        bad = {"Authorization": "Bearer guess"}
        codes = [
            (await client.get("/api/registry/v1/things", headers=bad)).status_code for _ in range(3)
        ]
    assert codes == [401, 401, 429]


async def test_memory_bucket_refills() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    policy = Policy(rate=2.0, burst=2)
    assert [(await limiter.hit("k", policy)).allowed for _ in range(3)] == [True, True, False]
    refused = await limiter.hit("k", policy)
    assert refused.retry_after == 1
    now[0] = 0.5  # one token back
    assert (await limiter.hit("k", policy)).allowed
    assert not (await limiter.hit("k", policy)).allowed


async def _redis_available() -> bool:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        await client.ping()
        return True
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def redis_url() -> str:
    if not await _redis_available():
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


@pytest.mark.redis
async def test_redis_bucket_is_atomic_under_concurrency(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=f"test:{uuid.uuid4().hex}:", timeout=5.0)
    try:
        policy = Policy(rate=0.01, burst=10)
        decisions = await asyncio.gather(*(limiter.hit("k", policy) for _ in range(50)))
        assert sum(d.allowed for d in decisions) == 10
        assert all(d.retry_after >= 1 for d in decisions if not d.allowed)
    finally:
        await limiter.close()


@pytest.mark.redis
async def test_redis_limits_are_shared_by_gateway_replicas(
    gateway_factory: GatewayFactory, issuer: TestIssuer, redis_url: str
) -> None:
    headers = issuer.headers(scopes=["registry:read"], azp=f"replicated-{uuid.uuid4().hex}")
    limits = {"redis_url": redis_url, "rate_limit_per_second": 0.1, "rate_limit_burst": 4}
    async with (
        gateway_factory(**limits) as one,
        gateway_factory(**limits) as two,
        one.client() as a,
        two.client() as b,
    ):
        codes = []
        for i in range(6):
            client = a if i % 2 == 0 else b
            codes.append((await client.get("/api/registry/v1/things", headers=headers)).status_code)
        details = await a.get("/health/details")
    assert codes == [200, 200, 200, 200, 429, 429]
    assert details.json()["checks"]["rate-limit-store"]["status"] == "pass"


async def test_redis_outage_fails_open() -> None:
    from gateway_testkit import free_port

    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0")
    try:
        decision = await limiter.hit("k", Policy(rate=1, burst=1))
        assert decision.allowed
        assert limiter.failures == 1
    finally:
        await limiter.close()


# ---------------------------------------------------------------- limits and bad input
async def test_body_limit_declared_and_streamed(
    gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:write"])
    overrides = {"max_body_bytes": 1024, "body_limits": {"/api/registry/v1/upload": 4096}}
    async with gateway_factory(**overrides) as gw, gw.client() as client:
        declared = await client.post("/api/registry/v1/echo", content=b"x" * 1025, headers=auth)

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(3):
                yield b"y" * 500

        streamed = await client.post("/api/registry/v1/echo", content=chunks(), headers=auth)
        within = await client.post("/api/registry/v1/echo", content=b"x" * 1024, headers=auth)
        override = await client.post("/api/registry/v1/upload", content=b"z" * 4000, headers=auth)
        over_override = await client.post(
            "/api/registry/v1/upload", content=b"z" * 4097, headers=auth
        )
    _problem(declared, 413)
    _problem(streamed, 413)
    assert within.status_code == 200
    assert override.json()["size"] == 4000
    _problem(over_override, 413)


async def test_default_body_limit_is_one_mebibyte(gw: RunningGateway, issuer: TestIssuer) -> None:
    auth = issuer.headers(scopes=["registry:write"])
    async with gw.client() as client:
        response = await client.post(
            "/api/registry/v1/upload", content=b"a" * (1024 * 1024 + 1), headers=auth
        )
    _problem(response, 413)


async def test_oversized_headers_are_431(gw: RunningGateway) -> None:
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/things", headers={"X-Big": "a" * 20_000})
    _problem(response, 431)


async def test_repeated_headers_count_and_fold(gw: RunningGateway, issuer: TestIssuer) -> None:
    good = issuer.token(scopes=["registry:read"])
    async with gw.client() as client:
        # Many repeated headers, each small: their total size still counts.
        many = await client.get("/api/registry/v1/things", headers=[("X-Rep", "a" * 1000)] * 20)
        # Two Authorization headers fold into one value: never "the first one wins".
        twice = await client.get(
            "/api/registry/v1/things",
            headers=[("Authorization", f"Bearer {good}"), ("Authorization", "Bearer other")],
        )
    _problem(many, 431)
    body = _problem(twice, 401)
    assert 'error="invalid_request"' in twice.headers["www-authenticate"]
    assert "Bearer <token>" in body["detail"]


async def test_unknown_routes_wrong_methods_and_dot_segments(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        _problem(await client.get("/api/nowhere"), 404)
        _problem(await client.get("/api/unknown/v1/things"), 404)
        _problem(await client.get("/api/registryx/v1/things"), 404)
        wrong = await client.request("TRACE", "/api/registry/v1/things", headers=auth)
        _problem(wrong, 405)
        assert "GET" in wrong.headers["allow"]
        _problem(await client.post("/health/live"), 405)
        _problem(await client.delete("/.well-known/openid-configuration"), 405)
        dots = await client.get("/api/registry/v1/x/%2e%2e/%2e%2e/metrics", headers=auth)
        _problem(dots, 400)
        # A trailing slash is a 404 that says why, with or without a token (not a 401).
        for headers in ({}, auth):
            slash = _problem(await client.get("/api/registry/v1/facilities/", headers=headers), 404)
            assert "trailing slash" in slash["detail"]


async def test_invalid_content_length_is_400(gw: RunningGateway, issuer: TestIssuer) -> None:
    port = int(gw.url.rsplit(":", 1)[1])
    token = issuer.token(scopes=["registry:write"])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/registry/v1/echo HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + b"Content-Length: 5\r\nConnection: close\r\n\r\nhello"
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    assert raw.startswith(b"HTTP/1.1 200")


# ---------------------------------------------------------------- headers and CORS
async def test_security_headers(gw: RunningGateway, issuer: TestIssuer) -> None:
    async with gw.client() as client:
        api = await client.get(
            "/api/registry/v1/things", headers=issuer.headers(scopes=["registry:read"])
        )
        docs = await client.get("/docs")
    for response in (api, docs):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers  # plain HTTP here
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    csp = docs.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


async def test_hsts_behind_tls(gw: RunningGateway) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/docs/assets/portal.css",
        "raw_path": b"/docs/assets/portal.css",
        "query_string": b"",
        "headers": [(b"host", b"gw")],
        "scheme": "https",
        "client": ("127.0.0.1", 1),
    }
    await gw.app(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert headers[b"strict-transport-security"].startswith(b"max-age=")


async def test_cors_from_settings(gateway_factory: GatewayFactory, issuer: TestIssuer) -> None:
    async with gateway_factory(cors_origins=["https://app.example"]) as gw, gw.client() as client:
        preflight = await client.options(
            "/api/registry/v1/things",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        actual = await client.get(
            "/api/registry/v1/things",
            headers={"Origin": "https://app.example", **issuer.headers(scopes=["registry:read"])},
        )
        stranger = await client.get(
            "/api/registry/v1/things",
            headers={"Origin": "https://evil.example", **issuer.headers(scopes=["registry:read"])},
        )
        openapi = await client.get(
            "/api/registry/v1/openapi.json", headers={"Origin": "https://evil.example"}
        )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
    assert actual.headers["access-control-allow-origin"] == "https://app.example"
    assert "RateLimit-Remaining" in actual.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in stranger.headers
    # ADR: OpenAPI documents are readable from any origin.
    assert openapi.headers["access-control-allow-origin"] == "*"


def test_redis_url_from_plain_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import Settings

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert Settings().redis_url == "redis://127.0.0.1:6379/3"
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://127.0.0.1:6379/4")
    assert Settings().redis_url == "redis://127.0.0.1:6379/4"


async def test_anonymous_limits_key_on_forwarded_ip_only_when_trusted(
    gateway_factory: GatewayFactory,
) -> None:
    limits = {"rate_limit_anonymous_per_second": 0.1, "rate_limit_anonymous_burst": 1}
    path = "/.well-known/openid-configuration"
    for trusted, expected in ((True, [200, 200]), (False, [200, 429])):
        async with (
            gateway_factory(trust_forwarded_for=trusted, **limits) as gw,
            gw.client() as client,
        ):
            codes = [
                (await client.get(path, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                for i in (1, 2)
            ]
        assert codes == expected, trusted
