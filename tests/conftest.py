"""Shared fixtures for every part's tests."""

from __future__ import annotations

import os

import pytest

# Tests never export traces and never depend on a running collector.
os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)

from servicekit.testing import TestIssuer


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    """A token issuer with a throw-away key; its verifier goes into the app under test."""
    return TestIssuer()
