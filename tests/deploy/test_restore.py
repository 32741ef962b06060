"""The restore runbook (deploy/README.md, "Backups and restore"), followed on the local
PostgreSQL: each service's database migrated and seeded by the service's own `prepare`,
dumped with deploy/compose/backup.sh, changed, dropped and restored by the same script, and
the real service apps then serve exactly what they served at the dump (what changed after
it is gone). Run by deploy/check.sh (SAMEN_RESTORE_RUNBOOK=1), which points it at the local
PostgreSQL (TEST_DATABASE_URL; under CI=true it fails instead of skipping), with PostgreSQL's
client tools (pg_dump, pg_restore, psql)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from identity.config import Settings as IdentitySettings
from identity.main import create_app as identity_app
from procurement.config import Settings as ProcurementSettings
from procurement.main import create_app as procurement_app
from registry.config import Settings as RegistrySettings
from registry.main import create_app as registry_app
from servicekit.testing import TestIssuer
from servicekit.testing import test_database_base_url as postgres_base_url

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "deploy" / "compose" / "backup.sh"
SERVICES = ("identity", "registry", "procurement")
KEK = "restore-test-key-encryption-key"


def _requirements() -> str:
    if os.environ.get("SAMEN_RESTORE_RUNBOOK") != "1":
        pytest.skip("run by make deploy-check (SAMEN_RESTORE_RUNBOOK=1): two minutes of dumps")
    base = postgres_base_url()
    missing = [t for t in ("pg_dump", "pg_restore", "psql") if not shutil.which(t)]
    if base and not missing:
        return base
    why = "needs PostgreSQL (TEST_DATABASE_URL)" if not base else f"needs {', '.join(missing)}"
    if os.environ.get("CI") == "true" and base:
        pytest.fail(f"the restore runbook cannot run under CI: {why}")
    pytest.skip(why)


@pytest.fixture
async def databases() -> AsyncIterator[dict[str, str]]:
    """service -> URL of a new database of its own (dropped afterwards)."""
    base = make_url(_requirements()).set(drivername="postgresql+asyncpg")
    names = {s: f"t_restore_{s}_{uuid.uuid4().hex[:10]}" for s in SERVICES}
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as conn:
        for name in names.values():
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {
            s: base.set(database=n).render_as_string(hide_password=False) for s, n in names.items()
        }
    finally:
        async with admin.connect() as conn:
            for name in names.values():
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def pg_env(url: str) -> dict[str, str]:
    parsed = make_url(url)
    env = {**os.environ, "PG_RUN": "", "PGHOST": parsed.host or "127.0.0.1",
           "PGPORT": str(parsed.port or 5432), "PGUSER": parsed.username or "postgres"}  # fmt: skip
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return env


def settings_for(service: str, url: str) -> Any:
    common = {"database_url": url, "otel_sdk_disabled": True, "log_json": False}
    if service == "identity":
        return IdentitySettings(environment="test", key_encryption_key=KEK, **common)
    if service == "registry":
        return RegistrySettings(environment="test", **common)
    return ProcurementSettings(environment="test", **common)


async def served(urls: dict[str, str], issuer: TestIssuer) -> dict[str, Any]:
    """What the real apps answer on their own databases (reads a person or system makes)."""
    reader = issuer.headers(sub="reader", scopes=["registry:read", "procurement:read"])
    apps = {
        "identity": identity_app(settings_for("identity", urls["identity"])),
        "registry": registry_app(
            settings_for("registry", urls["registry"]), token_verifier=issuer.verifier()
        ),
        "procurement": procurement_app(
            settings_for("procurement", urls["procurement"]), token_verifier=issuer.verifier()
        ),
    }
    pages = {
        "identity": ["/auth/jwks"],
        "registry": ["/v1/facilities?pageSize=100", "/v1/offerings?pageSize=100",
                     "/v1/organisations?pageSize=100"],
        "procurement": ["/v1/tenders?pageSize=100"],
    }  # fmt: skip
    answers: dict[str, Any] = {}
    try:
        for service, app in apps.items():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
                for page in pages[service]:
                    response = await http.get(page, headers=reader)
                    assert response.status_code == 200, (service, page, response.text)
                    answers[f"{service} {page}"] = response.json()
    finally:
        for app in apps.values():
            await app.state.database.dispose()
    return answers


def run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


async def test_dump_drop_restore_serves_the_same_data(
    databases: dict[str, str], tmp_path: Path
) -> None:
    issuer = TestIssuer()
    # 1. The services' own migrations and demo data (python -m <service> prepare).
    for service, url in databases.items():
        env = {**os.environ, f"{service.upper()}_DATABASE_URL": url,
               f"{service.upper()}_ENVIRONMENT": "development", "OTEL_SDK_DISABLED": "true"}  # fmt: skip
        if service == "identity":
            env["IDENTITY_KEY_ENCRYPTION_KEY"] = KEK
        await asyncio.to_thread(run, [sys.executable, "-m", service, "prepare"], env)
    before = await served(databases, issuer)
    assert before["identity /auth/jwks"]["keys"], "identity published its signing keys"
    assert before["registry /v1/facilities?pageSize=100"]["items"], "the registry was seeded"

    # 2. Dump (the runbook's command), as the backup would have.
    env = pg_env(databases["registry"])
    names = [make_url(u).database or "" for u in databases.values()]
    dump = tmp_path / "backup"
    await asyncio.to_thread(run, ["bash", str(BACKUP), "dump", str(dump), *names], env)
    assert sorted(p.name for p in dump.iterdir()) == sorted(f"{n}.dump" for n in names)

    # 3. Damage after the backup (offerings lost), which the restore must undo.
    damaged = create_async_engine(databases["registry"])
    async with damaged.begin() as conn:
        await conn.execute(text("TRUNCATE offerings CASCADE"))
    await damaged.dispose()
    assert await served(databases, issuer) != before

    # 4. Restore (drop, recreate, restore) and read again through the real apps.
    out = await asyncio.to_thread(run, ["bash", str(BACKUP), "restore", str(dump), *names], env)
    assert out.count("restored ") == len(names)
    after = await served(databases, issuer)
    assert after == before
