"""Revocations pushed over Redis pub/sub where Redis is configured: identity publishes each
committed revocation, and a resource server's feed (servicekit.revocations) holds the
revoked id at once, long before its next poll. A rogue or malformed message can only add
bounded entries; Redis going away leaves polling working."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from idkit import ISSUER, RP, decode_unverified, make_settings

from identity.main import create_app
from servicekit.db import Database
from servicekit.revocation_push import (
    CHANNEL,
    MAX_PUSHED_ENTRIES,
    MAX_PUSHED_LIFETIME,
    pushed_entries,
)
from servicekit.revocations import RevocationFeed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis of this test's own."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(5)


class Silent:
    """A feed that never lists anything: what the service knows came by push."""

    def __init__(self) -> None:
        self.polls = 0

    async def fetch(self, since: str | None) -> dict[str, Any]:
        self.polls += 1
        return {"revoked": [], "cursor": str(time.time())}


async def until(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_a_revocation_reaches_a_listening_service_at_once(
    database: Database, register: Any, redis_url: str
) -> None:
    identity = create_app(make_settings(database.url, redis_url=redis_url), database=database)
    await identity.state.identity.keys.ensure()
    publisher = identity.state.revocation_publisher
    assert publisher is not None
    publisher.start()
    source = Silent()
    # A poll interval far beyond the test: only the push can bring the id in time.
    service = RevocationFeed(source.fetch, interval=5.0, push_url=redis_url)
    await service.start()
    try:
        assert await until(lambda: service.push is not None and service.push.connected)
        assert service.details()["push"] == "listening"
        machine: RP = await register(grant_type="client_credentials")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=identity), base_url=ISSUER
        ) as http:
            data, _ = machine.auth({"grant_type": "client_credentials"})
            token = (await http.post("/auth/token", data=data)).json()["access_token"]
            jti = decode_unverified(token)["jti"]
            polls = source.polls
            data, _ = machine.auth({"token": token}, aud=f"{ISSUER}/auth/revoke")
            assert (await http.post("/auth/revoke", data=data)).status_code == 200
        assert await until(lambda: jti in service.revoked), "the pushed revocation never came"
        assert source.polls == polls, "it came by push, not by a poll"
    finally:
        await service.aclose()
        await publisher.aclose()
        await identity.state.identity.aclose()


async def test_a_service_listens_again_after_redis_was_away(redis_url: str) -> None:
    source = Silent()
    service = RevocationFeed(source.fetch, interval=5.0, push_url=redis_url)
    await service.start()
    try:
        assert await until(lambda: service.push is not None and service.push.connected)
        publisher = redis.asyncio.Redis.from_url(redis_url)
        try:
            # Dropped connections (as when Redis restarts): the listener subscribes again,
            # and polls once at once for what it may have missed meanwhile.
            await publisher.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            polls = source.polls
            assert await until(lambda: source.polls > polls)
            assert await until(lambda: service.push is not None and service.push.connected)
            exp = int(time.time()) + 300
            message = json.dumps({"revoked": [{"jti": "after-reconnect", "exp": exp}]})
            await publisher.publish(CHANNEL, message)
            assert await until(lambda: "after-reconnect" in service.revoked)
        finally:
            await publisher.aclose()
    finally:
        await service.aclose()


def test_malformed_or_unbounded_messages_add_nothing() -> None:
    now = 1_000_000.0
    assert pushed_entries(b"not json", now) == []
    assert pushed_entries(b'{"revoked": "all"}', now) == []
    assert pushed_entries(b'{"revoked": [{"jti": 1, "exp": 1000100}]}', now) == []
    assert pushed_entries(b'{"revoked": [{"jti": "gone", "exp": 999999}]}', now) == []
    many = [{"jti": f"j{i}", "exp": now + 60} for i in range(MAX_PUSHED_ENTRIES + 1)]
    assert pushed_entries(json.dumps({"revoked": many}), now) == []
    far = json.dumps({"revoked": [{"jti": "far", "exp": now + 10 * MAX_PUSHED_LIFETIME}]})
    assert pushed_entries(far, now) == [("far", now + MAX_PUSHED_LIFETIME)]
