"""PostgreSQL restarted during writes (the fault suite's "no acknowledged write lost; the
service reconnects"), with a real server restart and the real registry process.

The machine's PostgreSQL server is shared with other work, so the test brings a throw-away
cluster of its own: ``initdb`` into a temporary folder (as the ``postgres`` OS user when the
tests run as root, which initdb refuses), a free port on 127.0.0.1, its unix socket in that
folder, fsync off. The registry is migrated onto it and served; writers stream
POST /v1/organisations while the cluster is restarted with ``pg_ctl restart`` — ``-m fast``
(clean shutdown: every backend terminated, checkpoint) and ``-m immediate`` (a crash: the
server is killed and starts with crash recovery). Then, for each:

- the server really restarted (its start time changed) while writes were being served;
- every write got 201 or a clean problem+json 503 with Retry-After (never a 500, never a
  hang);
- the service serves writes again by itself within a bound of the server being back, and
  then without a single error (no stale pooled connection), readiness included;
- no acknowledged write is lost, and nothing is half-written: each organisation has
  exactly its one history row and its one outbox event.

It needs no TEST_DATABASE_URL, so it runs in both passes; skipped with the reason when the
PostgreSQL server binaries are missing or initdb cannot run as a non-root user. The
cluster is stopped and removed at the end, also when the test fails.
(The killed-connections variant on the shared server is test_database_faults.py.)"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from faultkit import free_port
from pgfaults import (
    Registry,
    assert_clean_answers,
    assert_database_matches,
    connect,
    recover,
    registry_on,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WRITERS = 4
WARMUP = 1.0  # seconds of writes before the restart
AFTER = 0.5  # seconds the writers go on once the server is back
RECOVERY_BOUND = 5.0  # seconds from the server accepting connections to a served write


def server_binaries() -> Path:
    """The newest installed PostgreSQL's bin folder (initdb, pg_ctl, postgres)."""
    found = [
        p.parent
        for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (p.parent / "pg_ctl").exists() and (p.parent / "postgres").exists()
    ]
    found.sort(key=lambda bindir: int(bindir.parent.name) if bindir.parent.name.isdigit() else 0)
    if not found:
        on_path = shutil.which("initdb")
        if on_path and shutil.which("pg_ctl"):
            return Path(on_path).parent
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return found[-1]


def run_as() -> tuple[list[str], int | None]:
    """The command prefix that runs the server's tools as a non-root user, and its uid."""
    if os.geteuid() != 0:
        return [], None
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        pytest.skip("running as root, which initdb refuses, and there is no postgres OS user")
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"], uid
    pytest.skip("running as root, which initdb refuses, and runuser is not available")


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int
    prefix: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def dsn(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/registry"

    def run(self, tool: str, *args: str, timeout: float = 60) -> None:
        command = [*self.prefix, str(self.bindir / tool), *args]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        done = subprocess.run(
            command, cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            pytest.fail(f"{' '.join(command)} failed: {done.stdout}{done.stderr}\n{log}")

    def ctl(self, *args: str) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args)

    def kill(self) -> None:
        """Last resort when pg_ctl could not stop it: SIGKILL the postmaster."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bindir = server_binaries()
    prefix, uid = run_as()
    # Not under pytest's tmp folder: its parents are private to root, and the server runs
    # as postgres. mkdtemp makes it 0700; hand it to the server's user.
    root = Path(tempfile.mkdtemp(prefix="samen-pg-restart-"))
    if uid is not None:
        os.chown(root, uid, -1)
    c = Cluster(bindir, root, free_port(), prefix)
    started = False
    try:
        c.run(
            "initdb", "-D", str(c.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        settings = {
            "port": str(c.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{root}'",
            "fsync": "off",  # durability against an OS crash is not what is tested here
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "60",
            "logging_collector": "off",
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        with (c.data / "postgresql.conf").open("a") as f:
            f.write(conf)
        started = True
        c.ctl("start")
        c.run("createdb", "-h", "127.0.0.1", "-p", str(c.port), "-U", "postgres", "registry")
        yield c
    finally:
        if started:
            try:
                c.ctl("stop", "-m", "immediate")
            except BaseException:
                c.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def restart_registry(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    with registry_on(cluster.dsn, tmp_path_factory.mktemp("pg-restart")) as registry:
        yield registry


async def server_started_at(dsn: str) -> float:
    conn = await connect(dsn)
    try:
        return float(await conn.fetchval("SELECT extract(epoch FROM pg_postmaster_start_time())"))
    finally:
        await conn.close()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgres_restarted_during_writes(
    cluster: Cluster, restart_registry: Registry, mode: str
) -> None:
    reg = restart_registry
    headers = reg.writer()
    before = await server_started_at(cluster.dsn)
    mark = len(reg.results)
    async with httpx.AsyncClient(base_url=reg.url, timeout=30) as client:
        stop = asyncio.Event()

        async def writer() -> None:
            while not stop.is_set():
                await reg.write(client, headers)

        tasks = [asyncio.create_task(writer()) for _ in range(WRITERS)]
        try:
            await asyncio.sleep(WARMUP)
            restarting = time.monotonic()
            # pg_ctl -w returns once the restarted server accepts connections.
            await asyncio.to_thread(cluster.ctl, "restart", "-m", mode)
            back = time.monotonic()
            await asyncio.sleep(AFTER)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert await server_started_at(cluster.dsn) > before, "the server did not restart"

        results = reg.results[mark:]
        statuses = assert_clean_answers(results)
        served_before = [r for r in results if r["status"] == 201 and r["at"] < restarting]
        assert served_before, f"no write was served before the restart: {statuses}"

        # Recovery: the first write served once the server was back (the writers went on
        # for AFTER seconds; else the probing in recover()) within the bound, and every write
        # served from then on.
        served = [r["at"] + r["seconds"] - back for r in results if r["status"] == 201 and r["at"] >= back]  # fmt: skip
        probed = await recover(reg, client, headers, back, RECOVERY_BOUND)
        recovered = min(served) if served else probed
        assert recovered < RECOVERY_BOUND, f"first served write {recovered:.2f} s after"
        print(
            f"\n{mode}: restart took {back - restarting:.2f} s; answers during the stream "
            f"{dict(statuses)}; first served write {recovered:.2f} s after the server was back"
        )

    await assert_database_matches(reg)
