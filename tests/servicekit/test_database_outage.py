"""A lost database connection is a 503 problem with Retry-After (retry on a fresh
connection), not a 500; any other database error stays a 500 that reveals nothing.
tests/faults/test_database_faults.py does the same against a real PostgreSQL whose
connections are killed during writes."""

from __future__ import annotations

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


@pytest.fixture
async def client(tmp_path: Any) -> AsyncIterator[httpx.AsyncClient]:
    down = Database(f"postgresql+asyncpg://svc:pw@127.0.0.1:{closed_port()}/svc")
    up = Database(f"sqlite+aiosqlite:///{tmp_path / 'up.db'}")
    router = APIRouter()

    @router.post("/v1/down", operation_id="down", summary="The database refuses connections")
    async def write_down() -> None:
        async with down.engine.connect() as conn:
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


@pytest.mark.parametrize("path", ["/v1/down", "/v1/killed"])
async def test_lost_database_is_503_with_retry_after(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["status"] == 503
    assert "127.0.0.1" not in response.text
    assert "terminating" not in response.text


async def test_other_database_errors_stay_500_without_details(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/broken-sql")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "SELEC" not in response.text
    assert "retry-after" not in response.headers
