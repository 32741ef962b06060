"""The proxy client against a raw socket server that writes the response head and body
separately (as uvicorn does): small bodies are handed over whole, HEAD answers and large
bodies are not waited for, and timeouts still apply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.client import WHOLE_BODY, Pool, UpstreamTimeout


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """Answers per request line: GET /small (head, 0.2 s pause, body), HEAD /small,
    GET /large (head, pause, a body above WHOLE_BODY), GET /stall (head, never the body)."""
    seen: list[bytes] = []
    large = b"x" * (WHOLE_BODY + 1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0]
                seen.append(line)
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


def _pool(port: int, read_timeout: float = 2.0) -> Pool:
    return Pool(
        "127.0.0.1", port, size=4, connect_timeout=1.0, read_timeout=read_timeout, keepalive=4.0
    )


async def test_small_body_is_handed_over_whole(server: tuple[int, list[bytes]]) -> None:
    port, seen = server
    pool = _pool(port)
    try:
        response = await pool.request("GET", b"/small", [], None, idempotent=True)
        # The head came 0.2 s before the body; the call returned only with both in.
        assert response._conn.complete
        assert await response.read() == b'{"ok":true}'
        response.release()
        assert pool.idle_count == 1  # kept alive and reused
        again = await pool.request("GET", b"/small", [], None, idempotent=True)
        assert await again.read() == b'{"ok":true}'
        again.release()
        assert len(seen) == 2
    finally:
        pool.close()


async def test_head_and_large_bodies_are_not_waited_for(
    server: tuple[int, list[bytes]],
) -> None:
    port, _seen = server
    pool = _pool(port)
    try:
        head = await asyncio.wait_for(
            pool.request("HEAD", b"/small", [], None, idempotent=True), 1.0
        )
        assert head.status == 200
        assert await head.read() == b""
        head.release()
        large = await pool.request("GET", b"/large", [], None, idempotent=True)
        assert not large._conn.complete  # headers first, the body streams after
        assert len(await large.read()) == WHOLE_BODY + 1
        large.release()
    finally:
        pool.close()


async def test_a_small_body_that_never_comes_times_out(
    server: tuple[int, list[bytes]],
) -> None:
    port, _seen = server
    pool = _pool(port, read_timeout=0.5)
    try:
        with pytest.raises(UpstreamTimeout):
            await pool.request("GET", b"/stall", [], None, idempotent=True)
    finally:
        pool.close()
