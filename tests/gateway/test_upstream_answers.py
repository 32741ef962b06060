"""Upstream answers from a raw socket server that writes the response head and body
separately (as uvicorn does): small bodies arrive whole over a reused connection, HEAD
answers and large bodies pass, and a body that never comes is a 504."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from gateway_testkit import GatewayFactory

from servicekit.testing import TestIssuer

LARGE = 64 * 1024 + 1
Seen = list[tuple[int, bytes]]  # (client port of the connection, request line)


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, Seen]]:
    """Answers per request line: GET /small (head, 0.2 s pause, body), HEAD /small,
    GET /large (head, pause, a body above 64 KiB), GET /stall (head, never the body)."""
    seen: Seen = []
    large = b"x" * LARGE

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[1]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0]
                seen.append((peer, line))
                body = large if b"/large" in line else b'{"ok":true}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % len(body)
                )
                await writer.drain()
                if line.startswith(b"HEAD"):
                    continue
                await asyncio.sleep(0.2)
                if b"/stall" in line:
                    await asyncio.sleep(5)
                writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield port, seen
    finally:
        srv.close()


async def test_small_bodies_whole_and_connections_reused(
    server: tuple[int, Seen], gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    port, seen = server
    auth = issuer.headers(scopes=["registry:read"])
    async with gateway_factory(registry_url=f"http://127.0.0.1:{port}") as gw, gw.client() as c:
        for _ in range(2):
            response = await c.get("/api/registry/v1/small", headers=auth)
            assert response.status_code == 200
            assert response.json() == {"ok": True}
            assert response.headers["content-length"] == str(len(b'{"ok":true}'))
    assert len(seen) == 2
    assert seen[0][0] == seen[1][0]  # one connection, kept alive and reused


async def test_head_and_large_bodies(
    server: tuple[int, Seen], gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    port, _seen = server
    auth = issuer.headers(scopes=["registry:read"])
    async with gateway_factory(registry_url=f"http://127.0.0.1:{port}") as gw, gw.client() as c:
        head = await asyncio.wait_for(c.head("/api/registry/v1/small", headers=auth), 1.0)
        assert head.status_code == 200
        assert head.content == b""
        large = await c.get("/api/registry/v1/large", headers=auth)
        assert large.status_code == 200
        assert len(large.content) == LARGE


async def test_a_body_that_never_comes_times_out(
    server: tuple[int, Seen], gateway_factory: GatewayFactory, issuer: TestIssuer
) -> None:
    port, _seen = server
    auth = issuer.headers(scopes=["registry:read"])
    upstream = f"http://127.0.0.1:{port}"
    async with (
        gateway_factory(registry_url=upstream, read_timeout=0.5) as gw,
        gw.client() as c,
    ):
        response = await c.get("/api/registry/v1/stall", headers=auth)
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
