"""Shared fixtures for every part's tests."""

from __future__ import annotations

import os
from typing import Any

import pytest

# Tests never export traces and never depend on a running collector.
os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)

from servicekit.testing import TestIssuer

# Debian's chromium: Playwright's own download is impossible offline.
CHROMIUM = "/usr/bin/chromium"


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
