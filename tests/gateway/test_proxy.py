"""Proxy fidelity through a real gateway to real upstream processes: methods, query
strings, bodies both ways, streaming, headers, redirects, link rewriting."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest
from gateway_testkit import RunningGateway

from servicekit.testing import TestIssuer


def _headers(echo: dict[str, object]) -> dict[str, str]:
    pairs = echo["headers"]
    assert isinstance(pairs, list)
    return {k.lower(): v for k, v in pairs}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_methods_paths_queries_and_bodies_pass_through(
    gw: RunningGateway, issuer: TestIssuer, method: str
) -> None:
    scopes = ["registry:read", "registry:write"]
    body = b'{"name": "caf\xc3\xa9"}' if method in ("POST", "PUT", "PATCH") else None
    async with gw.client() as client:
        response = await client.request(
            method,
            "/api/registry/v1/echo/a%20b/c?x=1&y=%C3%A9&x=2",
            content=body,
            headers={**issuer.headers(scopes=scopes), "Content-Type": "application/json"},
        )
    assert response.status_code == 200
    echo = response.json()
    assert echo["service"] == "registry"
    assert echo["method"] == method
    assert echo["rawPath"] == "/v1/echo/a%20b/c?x=1&y=%C3%A9&x=2"
    assert echo["body"] == (body.decode() if body else "")
    headers = _headers(echo)
    assert headers["authorization"].startswith("Bearer ")  # services verify again
    assert headers["content-type"] == "application/json"
    assert response.headers["api-version"] == "1.2.3"  # the upstream's, not the gateway's


async def test_head_passes_through(gw: RunningGateway, issuer: TestIssuer) -> None:
    async with gw.client() as client:
        response = await client.head(
            "/api/registry/v1/things", headers=issuer.headers(scopes=["registry:read"])
        )
    assert response.status_code == 200
    assert response.content == b""


async def test_forwarding_headers_are_set_and_hop_by_hop_dropped(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    headers = {
        **issuer.headers(scopes=["registry:read"]),
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "must-not-pass",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Host": "spoofed.example",
        "X-Custom": "kept",
        "Cookie": "session=abc",
    }
    async with gw.client() as client:
        response = await client.get("/api/registry/v1/echo", headers=headers)
    seen = _headers(response.json())
    assert "x-hop" not in seen
    assert "keep-alive" not in seen
    assert "te" not in seen
    assert seen["x-custom"] == "kept"
    assert seen["cookie"] == "session=abc"
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == gw.url.removeprefix("http://")
    assert seen["x-forwarded-prefix"] == "/api/registry/v1"
    assert seen["host"].startswith("127.0.0.1:")  # the upstream's own host


async def test_response_hop_by_hop_and_internal_headers_dropped(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    async with gw.client() as client:
        response = await client.get(
            "/api/registry/v1/headers-out", headers=issuer.headers(scopes=["registry:read"])
        )
    assert response.status_code == 200
    assert "x-private" not in response.headers
    assert "keep-alive" not in response.headers
    assert "secret-upstream" not in response.headers.get("server", "")
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["link"] == '</api/registry/v1/things?page=2>; rel="next"'


async def test_links_and_location_are_rewritten(gw: RunningGateway, issuer: TestIssuer) -> None:
    auth = issuer.headers(scopes=["registry:read", "registry:write"])
    async with gw.client() as client:
        listing = await client.get("/api/registry/v1/things?page=2", headers=auth)
        created = await client.post("/api/registry/v1/things", json={"name": "n"}, headers=auth)
    body = listing.json()
    assert body["_links"]["self"]["href"] == "/api/registry/v1/things?page=2"
    assert body["_links"]["next"]["href"] == "/api/registry/v1/things?page=3"
    assert body["_links"]["absolute"]["href"] == "/api/registry/v1/things"
    assert body["_links"]["elsewhere"]["href"] == "https://example.org/v1/things"
    assert body["items"][0]["_links"]["self"]["href"] == "/api/registry/v1/things/t2"
    assert int(listing.headers["content-length"]) == len(listing.content)
    assert created.status_code == 201
    assert created.headers["location"] == "/api/registry/v1/things/t42"
    assert created.json()["_links"]["self"]["href"] == "/api/registry/v1/things/t42"


async def test_problem_instance_rewritten_and_status_passes(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        problem = await client.get("/api/registry/v1/problem", headers=auth)
        teapot = await client.get("/api/registry/v1/status/418", headers=auth)
    assert problem.status_code == 404
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["instance"] == "/api/registry/v1/problem"
    assert teapot.status_code == 418


async def test_redirects_are_passed_not_followed(gw: RunningGateway, issuer: TestIssuer) -> None:
    async with gw.client() as client:
        response = await client.get(
            "/api/registry/v1/redirect", headers=issuer.headers(scopes=["registry:read"])
        )
    assert response.status_code == 302
    assert response.headers["location"] == "/api/registry/v1/things?page=1"


async def test_response_streams_as_it_is_produced(gw: RunningGateway, issuer: TestIssuer) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        started = time.monotonic()
        async with client.stream(
            "GET", "/api/registry/v1/stream?chunks=4&delay=0.3", headers=auth
        ) as response:
            arrivals = []
            async for chunk in response.aiter_raw():
                if chunk:
                    arrivals.append((time.monotonic() - started, chunk))
    text = b"".join(c for _, c in arrivals).decode()
    assert text == "".join(f"chunk-{i}\n" for i in range(4))
    # The first chunk arrives long before the upstream finished (4 x 0.3 s).
    assert arrivals[0][0] < 0.8
    assert arrivals[-1][0] > 0.8


async def test_large_bodies_stream_both_ways(gw: RunningGateway, issuer: TestIssuer) -> None:
    payload = bytes(range(256)) * 3000  # ~750 KiB: larger than the read-at-once threshold
    auth = issuer.headers(scopes=["registry:read", "registry:write"])
    async with gw.client() as client:
        up = await client.post("/api/registry/v1/upload", content=payload, headers=auth)
        down = await client.get("/api/registry/v1/big?size=3000000", headers=auth)
    assert up.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    assert down.status_code == 200
    assert len(down.content) == 3_000_000
    assert down.headers["content-length"] == "3000000"


async def test_chunked_request_body_is_forwarded(gw: RunningGateway, issuer: TestIssuer) -> None:
    async def parts():  # type: ignore[no-untyped-def]
        for i in range(5):
            yield f"part{i};".encode()

    async with gw.client() as client:
        response = await client.post(
            "/api/registry/v1/echo",
            content=parts(),
            headers=issuer.headers(scopes=["registry:write"]),
        )
    echo = response.json()
    assert echo["body"] == "part0;part1;part2;part3;part4;"


async def test_encoded_bodies_pass_unchanged(gw: RunningGateway, issuer: TestIssuer) -> None:
    async with gw.client() as client:
        response = await client.get(
            "/api/procurement/v1/gzip",
            headers={**issuer.headers(scopes=["procurement:read"]), "Accept-Encoding": "identity"},
        )
    # Rewrite routes never ask upstreams to compress; this upstream compresses anyway and
    # the bytes pass as they are (httpx decodes them).
    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == {"_links": {"self": {"href": "/v1/gzip"}}}


async def test_identity_oidc_paths_pass_unchanged(gw: RunningGateway) -> None:
    async with gw.client() as client:
        config = await client.get("/.well-known/openid-configuration")
        token = await client.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic Y2xpZW50OnNlY3JldA=="},
        )
    assert config.status_code == 200
    assert config.json()["token_endpoint"] == "/auth/token"
    echo = token.json()
    assert echo["service"] == "identity"
    assert echo["path"] == "/auth/token"
    assert echo["body"] == "grant_type=client_credentials"
    # Client authentication is for identity to check; the gateway leaves it alone.
    assert _headers(echo)["authorization"] == "Basic Y2xpZW50OnNlY3JldA=="


async def test_each_prefix_reaches_its_upstream(gw: RunningGateway, issuer: TestIssuer) -> None:
    auth = issuer.headers(scopes=["registry:read", "procurement:read"])
    async with gw.client() as client:
        r = await client.get("/api/registry/v1/echo", headers=auth)
        p = await client.get("/api/procurement/v1/echo", headers=auth)
        i = await client.get("/api/identity/v1/echo", headers=auth)
    assert (r.json()["service"], r.json()["path"]) == ("registry", "/v1/echo")
    assert (p.json()["service"], p.json()["path"]) == ("procurement", "/v1/echo")
    assert (i.json()["service"], i.json()["path"]) == ("identity", "/v1/echo")


async def test_keep_alive_connections_are_reused(gw: RunningGateway, issuer: TestIssuer) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        answers = [
            (await client.get("/api/registry/v1/echo", headers=auth)).json() for _ in range(20)
        ]
    # One pooled connection served all sequential calls.
    assert len({a["peerPort"] for a in answers}) == 1


async def test_upstream_crash_pages_do_not_leak(gw: RunningGateway, issuer: TestIssuer) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        crash = await client.get("/api/registry/v1/crash", headers=auth)
        planned = await client.get("/api/registry/v1/status/503", headers=auth)
    assert crash.status_code == 500
    assert crash.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in crash.text
    assert "hunter2" not in crash.text
    assert crash.json()["detail"] == "The registry service could not complete the request."
    # A service's own problem+json 5xx passes as it is.
    assert planned.status_code == 503
    assert planned.json()["detail"] == "upstream says so"


async def test_big_response_then_reuse_and_unread_bodies_do_not_poison_the_pool(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    auth = issuer.headers(scopes=["registry:read"])
    async with gw.client() as client:
        big = await client.get("/api/registry/v1/big?size=2000000", headers=auth)
        crash = await client.get("/api/registry/v1/crash", headers=auth)  # body left unread
        after = [
            (await client.get("/api/registry/v1/things", headers=auth)).status_code
            for _ in range(3)
        ]
    assert len(big.content) == 2_000_000
    assert crash.status_code == 500
    assert after == [200, 200, 200]


async def test_client_gone_mid_upload_is_not_an_upstream_failure(
    gw: RunningGateway, issuer: TestIssuer
) -> None:
    """A client that hangs up while its body streams to the upstream: counted as 499, and
    the upstream's circuit breaker does not hear of it."""
    host, port = gw.url.removeprefix("http://").split(":")
    token = issuer.token(scopes=["registry:write"])
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /api/registry/v1/upload HTTP/1.1\r\nhost: gw\r\n"
        b"authorization: Bearer " + token.encode() + b"\r\n"
        b"content-type: application/octet-stream\r\ncontent-length: 500000\r\n\r\n" + b"x" * 100_000
    )
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await writer.wait_closed()
    async with gw.client() as client:
        for _ in range(50):
            metrics = (await client.get("/metrics")).text
            if 'status="499"' in metrics:
                break
            await asyncio.sleep(0.1)
    assert 'gateway_requests_total{method="POST",route="registry",status="499"} 1.0' in metrics
    assert "gateway_upstream_errors_total{" not in metrics
    assert gw.app.upstreams["registry"].breaker.failures == 0
