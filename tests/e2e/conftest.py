"""The platform for the end-to-end suite: scripts/run.py (what `make run` runs) starts
identity, registry, procurement and the gateway on free ports with a temporary data
folder (or fresh PostgreSQL databases when TEST_DATABASE_URL is set), all exporting
their traces to an in-process OTLP receiver."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from e2ekit import Platform, attach_platform, start_platform, stop_platform

from servicekit.testing import fresh_database_url, test_database_base_url


@pytest.fixture(scope="session")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    attach = os.environ.get("SAMEN_E2E_ATTACH")
    if attach:  # a platform started by `python tests/e2e/e2ekit.py FOLDER`
        yield attach_platform(Path(attach))
        return
    tmp = tmp_path_factory.mktemp("e2e")
    async with AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        if test_database_base_url():
            # run.py defaults to SQLite files; PostgreSQL gets one fresh database per service.
            for part in ("identity", "registry", "procurement", "portal"):
                urls[part] = await stack.enter_async_context(fresh_database_url(f"e2e_{part}", tmp))
        running, problem = start_platform(tmp, urls)
        try:
            if problem is not None:
                message = f"the platform could not start: {problem}\n{running.log_tail()}"
                # In CI a platform that cannot start is a failure, not a reason to skip.
                if os.environ.get("CI") == "true":
                    pytest.fail(message)
                pytest.skip(message)
            yield running
        finally:
            stop_platform(running)
