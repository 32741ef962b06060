"""A lost database connection is a 503 problem with Retry-After (retry on a fresh
connection), not a 500; any other database error stays a 500 that reveals nothing.
tests/faults/test_database_faults.py does the same against a real PostgreSQL whose
connections are killed during writes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from servicekit.app import create_service_app
from servicekit.db import Database
from servicekit.errors import lost_database_connection
from servicekit.settings import ServiceSettings


class ConnectionDoesNotExistError(Exception):
    """Named as asyncpg's: the connection was closed in the middle of an operation."""


class AdminShutdownError(Exception):
    sqlstate = "57P01"


class QueryCanceledError(Exception):
    sqlstate = "57014"  # a statement timeout: the connection is fine


def dbapi_error(orig: BaseException, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("INSERT ...", {}, orig, connection_invalidated=invalidated)


def wrapped(cause: BaseException) -> BaseException:
    outer = Exception("asyncpg adapter error")
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (dbapi_error(Exception("x"), invalidated=True), True),
        (dbapi_error(wrapped(ConnectionDoesNotExistError("closed mid-operation"))), True),
        (dbapi_error(wrapped(AdminShutdownError("terminating connection"))), True),
        (dbapi_error(wrapped(ConnectionResetError(104, "reset by peer"))), True),
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (dbapi_error(wrapped(QueryCanceledError("statement timeout"))), False),
        (dbapi_error(Exception('syntax error at or near "SELEC"')), False),
    ],
)
def test_lost_connections_are_told_apart(error: BaseException, lost: bool) -> None:
    assert lost_database_connection(error) is lost


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + (len(body) + 4).to_bytes(4, "big") + body


async def refusing_server(sqlstate: str, message: str) -> asyncio.Server:
    """A PostgreSQL server that refuses every connection after the startup message with
    ``sqlstate``, as one shutting down or starting up does (57P03)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = int.from_bytes(await reader.readexactly(4), "big")
                payload = await reader.readexactly(length - 4)
                if payload[:4] == (80877103).to_bytes(4, "big"):  # SSLRequest
                    writer.write(b"N")
                    continue
                writer.write(error_response(sqlstate, message))
                await writer.drain()
                break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def test_a_refused_connection_is_a_database_error() -> None:
    """asyncpg raises connect errors as they are; servicekit's engine hands them on as
    SQLAlchemy's DBAPIError (as every other database error), so the handlers see them."""
    server = await refusing_server("57P03", "the database system is starting up")
    db = Database(f"postgresql+asyncpg://svc:pw@127.0.0.1:{port_of(server)}/svc")
    try:
        with pytest.raises(DBAPIError) as caught:
            async with db.engine.connect():
                pass
        assert lost_database_connection(caught.value)
    finally:
        await db.dispose()
        server.close()


@pytest.fixture
async def client(tmp_path: Any) -> AsyncIterator[httpx.AsyncClient]:
    down = Database(f"postgresql+asyncpg://svc:pw@127.0.0.1:{closed_port()}/svc")
    refusing = await refusing_server("57P03", "the database system is shutting down")
    restarting = Database(f"postgresql+asyncpg://svc:pw@127.0.0.1:{port_of(refusing)}/svc")
    wrong = await refusing_server("28P01", "password authentication failed for user svc")
    misconfigured = Database(f"postgresql+asyncpg://svc:pw@127.0.0.1:{port_of(wrong)}/svc")
    up = Database(f"sqlite+aiosqlite:///{tmp_path / 'up.db'}")
    router = APIRouter()

    @router.post("/v1/down", operation_id="down", summary="The database refuses connections")
    async def write_down() -> None:
        async with down.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @router.post("/v1/restarting", operation_id="restarting", summary="Server restarting")
    async def write_restarting() -> None:
        async with restarting.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @router.post("/v1/misconfigured", operation_id="misconfigured", summary="Wrong password")
    async def write_misconfigured() -> None:
        async with misconfigured.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @router.post("/v1/killed", operation_id="killed", summary="The connection was killed")
    async def write_killed() -> None:
        raise dbapi_error(wrapped(AdminShutdownError("terminating connection")))

    @router.post("/v1/broken-sql", operation_id="brokenSql", summary="A bug, not an outage")
    async def write_broken() -> None:
        async with up.engine.connect() as conn:
            await conn.execute(text("SELEC 1"))

    app = create_service_app(
        service="outage",
        title="Outage",
        version="1.0.0",
        description="database outages",
        settings=ServiceSettings(environment="test", log_json=True),
        routers=[router],
        database=up,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://outage") as c:
        yield c
    await down.dispose()
    await up.dispose()
    await restarting.dispose()
    await misconfigured.dispose()
    refusing.close()
    wrong.close()


@pytest.mark.parametrize("path", ["/v1/down", "/v1/restarting", "/v1/killed"])
async def test_lost_database_is_503_with_retry_after(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["status"] == 503
    assert "127.0.0.1" not in response.text
    assert "terminating" not in response.text


@pytest.mark.parametrize("path", ["/v1/broken-sql", "/v1/misconfigured"])
async def test_other_database_errors_stay_500_without_details(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(path)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "SELEC" not in response.text
    assert "password" not in response.text
    assert "retry-after" not in response.headers
