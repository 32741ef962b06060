"""Readiness depends only on the process and its own database; the other parts it calls
are in /health/details and the service_dependency_up metric, never in /health/ready."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from procurement.config import Settings as ProcurementSettings
from procurement.main import create_app as procurement_app
from servicekit.app import create_service_app
from servicekit.settings import ServiceSettings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def jwks_server() -> Iterator[str]:
    """A stand-in for identity's JWKS endpoint on a free loopback port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"keys": []}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/auth/jwks"
    finally:
        server.shutdown()
        server.server_close()


def app_for(tmp_path: Path, jwks_url: str, database_url: str | None = None) -> object:
    settings = ServiceSettings(
        environment="test",
        database_url=database_url or f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        auth_jwks_url=jwks_url,
    )
    return create_service_app(
        service="demo", title="Demo", version="1.0.0", description="demo", settings=settings
    )


async def get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        return await client.get(path)


async def test_identity_down_leaves_the_service_ready_and_shows_in_details(
    tmp_path: Path,
) -> None:
    app = app_for(tmp_path, f"http://127.0.0.1:{closed_port()}/auth/jwks")
    ready = await get(app, "/health/ready")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"database"}
    details = await get(app, "/health/details")
    assert details.status_code == 200
    body = details.json()
    assert body["status"] == "warn"
    assert body["checks"]["database"]["status"] == "pass"
    assert body["checks"]["dependency:identity-jwks"] == {
        "status": "fail",
        "output": "ConnectError",
    }
    assert "revocation-feed" in body["checks"]
    metrics = (await get(app, "/metrics")).text
    assert 'service_dependency_up{dependency="identity-jwks"} 0.0' in metrics


async def test_dependency_up_is_pass_and_one(tmp_path: Path, jwks_server: str) -> None:
    app = app_for(tmp_path, jwks_server)
    details = (await get(app, "/health/details")).json()
    assert details["checks"]["dependency:identity-jwks"] == {"status": "pass"}
    metrics = (await get(app, "/metrics")).text
    assert 'service_dependency_up{dependency="identity-jwks"} 1.0' in metrics


async def test_own_database_down_is_not_ready(tmp_path: Path, jwks_server: str) -> None:
    app = app_for(tmp_path, jwks_server, f"postgresql+asyncpg://x@127.0.0.1:{closed_port()}/x")
    ready = await get(app, "/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "fail"
    details = await get(app, "/health/details")
    assert details.status_code == 503
    assert details.json()["status"] == "fail"


async def test_procurement_is_ready_without_the_registry(tmp_path: Path) -> None:
    settings = ProcurementSettings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'procurement.db'}",
        registry_url=f"http://127.0.0.1:{closed_port()}",
        auth_jwks_url=f"http://127.0.0.1:{closed_port()}/auth/jwks",
    )
    app = procurement_app(settings)
    ready = await get(app, "/health/ready")
    # Not migrated: the schema check fails, which is this process's own concern ...
    assert set(ready.json()["checks"]) == {"database", "schema"}
    details = (await get(app, "/health/details")).json()
    # ... while the registry being away is only reported.
    assert details["checks"]["dependency:registry"]["status"] == "fail"
