"""Helpers of the fault suite (the fixtures are in conftest.py): the registry and the gateway
(``python -m ... serve`` on free ports, SQLite in a temporary folder), with procurement and a
seeded registry for the enrollment faults, and a JWKS server of the session's TestIssuer whose
answers can be slowed down or stopped (it also hands procurement its client_credentials
token, as identity would)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.testing import TestIssuer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JwksServer:
    """Serves the issuer's JWKS; ``delay`` seconds before answering, or 503 when down."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.delay = 0.0
        self.down = False
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                if server.delay:
                    time.sleep(server.delay)
                body = json.dumps(issuer.jwks()).encode()
                status = 503 if server.down else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting

            def do_POST(self) -> None:
                """client_credentials for procurement (identity's token endpoint)."""
                self.rfile.read(int(self.headers.get("content-length") or 0))
                server.token_requests += 1
                # As identity's registration of samen-procurement: it reads contract ends.
                token = issuer.token(
                    sub="samen-procurement",
                    azp="samen-procurement",
                    scopes=["registry:read", "registry:contracts"],
                )
                body = json.dumps(
                    {"access_token": token, "token_type": "Bearer", "expires_in": 300}
                ).encode()
                status = 200 if self.path == "/auth/token" else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.token_requests = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/auth/jwks"
        self.token_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/auth/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Proc:
    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    history: list[float] = field(default_factory=list)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_live(self, timeout: float = 120.0) -> float:
        """Seconds until /health/live answers (fails the test with the log otherwise)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{self.port}/health/live", timeout=1).status_code
                    == 200
                ):
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.name} not live after {timeout} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Stack:
    gateway: Proc
    registry: Proc
    jwks: JwksServer
    issuer: TestIssuer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    def headers(self) -> dict[str, str]:
        return self.issuer.headers(scopes=["registry:read"], lifetime=3600)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("faults")
    issuer = TestIssuer()
    jwks = JwksServer(issuer)
    ports = {"gateway": free_port(), "registry": free_port()}
    closed = free_port()  # nothing listens there: identity and procurement are not needed
    base = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("REGISTRY_", "GATEWAY_", "OTEL_"))
    }  # fmt: skip
    base.update(PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore", OTEL_SDK_DISABLED="true")
    registry_env = {
        **base,
        "REGISTRY_ENVIRONMENT": "development",
        "REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'registry.db'}",
        "REGISTRY_AUTH_ISSUER": issuer.issuer,
        "REGISTRY_AUTH_JWKS_URL": jwks.url,
        "REGISTRY_WEBHOOKS_ENABLED": "false",
    }
    gateway_env = {
        **base,
        "GATEWAY_ENVIRONMENT": "development",
        "GATEWAY_AUTH_ISSUER": issuer.issuer,
        "GATEWAY_AUTH_JWKS_URL": jwks.url,
        "GATEWAY_REGISTRY_URL": f"http://127.0.0.1:{ports['registry']}",
        "GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{closed}",
        "GATEWAY_PROCUREMENT_URL": f"http://127.0.0.1:{closed}",
        "GATEWAY_READ_TIMEOUT": "5",
        "GATEWAY_CONNECT_TIMEOUT": "1",
        # Shorter than the default 10 s so "recovers within 2 s of the restart" is about
        # the gateway's reconnection, not about waiting out a long breaker period.
        "GATEWAY_BREAKER_OPEN_SECONDS": "1",
        "GATEWAY_RATE_LIMIT_ENABLED": "false",
        "GATEWAY_TOKEN_CACHE_SECONDS": "0",
    }
    subprocess.run(
        [sys.executable, "-m", "registry", "migrate"], env=registry_env, cwd=ROOT, check=True,
        capture_output=True,
    )  # fmt: skip
    py = sys.executable
    registry = Proc(
        "registry",
        [py, "-m", "registry", "serve", "--host", "127.0.0.1", "--port", str(ports["registry"])],
        registry_env, ports["registry"], tmp / "registry.log",
    )  # fmt: skip
    gateway = Proc(
        "gateway",
        [py, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", str(ports["gateway"])],
        gateway_env, ports["gateway"], tmp / "gateway.log",
    )  # fmt: skip
    registry.start()
    gateway.start()
    try:
        registry.wait_live()
        gateway.wait_live()
        yield Stack(gateway, registry, jwks, issuer)
    finally:
        gateway.stop()
        registry.stop()
        jwks.close()


@dataclass
class Platform:
    """Gateway, registry (seeded) and procurement as real processes."""

    gateway: Proc
    registry: Proc
    procurement: Proc
    jwks: JwksServer
    issuer: TestIssuer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"


def _env(prefix: str, settings: dict[str, str]) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("REGISTRY_", "GATEWAY_", "PROCUREMENT_", "IDENTITY_", "OTEL_"))
    }  # fmt: skip
    base.update(PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore", OTEL_SDK_DISABLED="true")
    base.update({f"{prefix}_{k}": v for k, v in settings.items()})
    return base


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Registry (migrated and seeded with the demo data), procurement and the gateway."""
    tmp = tmp_path_factory.mktemp("faults-platform")
    issuer = TestIssuer()
    jwks = JwksServer(issuer)
    ports = {name: free_port() for name in ("gateway", "registry", "procurement")}
    closed = free_port()  # identity is not needed: nothing listens there
    common = {"ENVIRONMENT": "test", "AUTH_ISSUER": issuer.issuer, "AUTH_JWKS_URL": jwks.url}
    registry_env = _env("REGISTRY", {
        **common,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'registry.db'}",
        "WEBHOOKS_ENABLED": "false",
    })  # fmt: skip
    procurement_env = _env("PROCUREMENT", {
        **common,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'procurement.db'}",
        "REGISTRY_URL": f"http://127.0.0.1:{ports['registry']}",
        "TOKEN_URL": jwks.token_url,
        "REGISTRY_TIMEOUT_SECONDS": "2",
        "REGISTRY_RETRY_AFTER_SECONDS": "5",
        # No reuse of earlier registry answers: every enrollment asks the registry.
        "REGISTRY_CACHE_SECONDS": "0",
    })  # fmt: skip
    gateway_env = _env("GATEWAY", {
        **common,
        "REGISTRY_URL": f"http://127.0.0.1:{ports['registry']}",
        "PROCUREMENT_URL": f"http://127.0.0.1:{ports['procurement']}",
        "IDENTITY_URL": f"http://127.0.0.1:{closed}",
        "READ_TIMEOUT": "10",
        "RATE_LIMIT_ENABLED": "false",
    })  # fmt: skip
    py = sys.executable
    for module, env, step in (
        ("registry", registry_env, "prepare"),  # migrate + the demo organisations, contracts
        ("procurement", procurement_env, "migrate"),
    ):
        subprocess.run([py, "-m", module, step], env=env, cwd=ROOT, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
    procs = {
        name: Proc(
            name,
            [py, "-m", name, "serve", "--host", "127.0.0.1", "--port", str(ports[name])],
            env,
            ports[name],
            tmp / f"{name}.log",
        )
        for name, env in (
            ("registry", registry_env),
            ("procurement", procurement_env),
            ("gateway", gateway_env),
        )
    }
    for proc in procs.values():
        proc.start()
    try:
        for proc in procs.values():
            proc.wait_live()
        yield Platform(procs["gateway"], procs["registry"], procs["procurement"], jwks, issuer)
    finally:
        for proc in procs.values():
            proc.stop()
        jwks.close()
