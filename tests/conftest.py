"""Shared fixtures for every part's tests."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# Helpers every part's tests share (a11y.py) sit here, beside each part's own folder.
sys.path.insert(0, str(Path(__file__).parent))

# Tests never export traces and never depend on a running collector.
os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)

from servicekit.errors import ProblemError
from servicekit.openapi import PROBLEM_SCHEMA
from servicekit.testing import TestIssuer

# Debian's chromium: Playwright's own download is impossible offline.
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def problems_follow_the_schema(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every problem any in-process service or the gateway answers during any test is
    checked against the documented Problem schema (RFC 9457: ``status`` is the HTTP
    status number, members beside the standard ones never replace them)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(PROBLEM_SCHEMA)
    original = ProblemError.to_dict
    wrong: list[str] = []

    def checked(self: ProblemError, instance: str | None = None) -> dict[str, Any]:
        body = original(self, instance)
        errors = [e.message for e in validator.iter_errors(body)]
        if body.get("status") != self.status:
            errors.append(f"status {body.get('status')!r} is not the HTTP status {self.status}")
        if errors:
            wrong.append(f"{type(self).__name__} {body}: {'; '.join(errors)}")
        return body

    monkeypatch.setattr(ProblemError, "to_dict", checked)
    yield
    assert not wrong, "problems that do not follow the schema:\n" + "\n".join(wrong)


@pytest.fixture
def local_http_server() -> Iterator[int]:
    """A server on 127.0.0.1 answering every GET and POST with 200 and ``{}``: its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_GET()

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    """A token issuer with a throw-away key; its verifier goes into the app under test."""
    return TestIssuer()


# Browser tests (gateway portal, e2e login): one offline Chromium per test.
@pytest.fixture
async def browser() -> Any:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()
