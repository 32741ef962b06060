"""`make run`: migrate, seed once, start identity, registry, procurement, the portal and
the gateway.

A small supervisor instead of a Procfile runner: it runs each part's migrations and
seed first (seeding only once per data folder), registers the portal's clients at
identity (again only when their registration changed), starts the five processes on
127.0.0.1, waits until each is live, prints the URLs (the portal's first: it is where a
newcomer starts), and stops them all on Ctrl-C (or when one of them exits).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# name, port, has database
SERVICES: list[tuple[str, int, bool]] = [
    ("identity", int(os.environ.get("IDENTITY_PORT", 8001)), True),
    ("registry", int(os.environ.get("REGISTRY_PORT", 8002)), True),
    ("procurement", int(os.environ.get("PROCUREMENT_PORT", 8003)), True),
    ("portal", int(os.environ.get("PORTAL_PORT", 8004)), True),
    ("gateway", int(os.environ.get("GATEWAY_PORT", 8000)), False),
]


def log(message: str) -> None:
    print(f"[samen] {message}", flush=True)


def prepare_one(name: str, data_dir: Path, env: dict[str, str]) -> None:
    """Migrate, and the first time also load the part's demo data (``prepare``)."""
    marker = data_dir / f"{name}.seeded"
    command = "migrate" if marker.exists() else "prepare"
    subprocess.run([PYTHON, "-m", name, command], check=True, env=env, cwd=ROOT)
    marker.write_text("seeded\n")


def prepare(data_dir: Path, env: dict[str, str]) -> None:
    """Prepare the parts in parallel: each start pays Python's import time."""
    with ThreadPoolExecutor() as pool:
        futures = [
            pool.submit(prepare_one, name, data_dir, env)
            for name, _port, has_db in SERVICES
            if has_db
        ]
        for future in futures:
            future.result()


def register_portal(data_dir: Path, env: dict[str, str]) -> None:
    """The portal's two clients at identity (log-in, and the public pages' reader), from
    the portal's own key: ``python -m portal client-registration`` piped into
    ``python -m identity register-client``. Skipped when nothing changed since last time."""
    documents = []
    for index in ("0", "1"):
        printed = subprocess.run(
            [PYTHON, "-m", "portal", "client-registration", "--client", index],
            check=True,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        documents.append(printed)
    marker = data_dir / "portal.registered"
    digest = hashlib.sha256("\n".join(documents).encode()).hexdigest()
    if marker.exists() and marker.read_text().strip() == digest:
        return
    for document in documents:
        subprocess.run(
            [PYTHON, "-m", "identity", "register-client", "--file", "-"],
            check=True,
            env=env,
            cwd=ROOT,
            input=document,
            text=True,
            stdout=subprocess.DEVNULL,
        )
    marker.write_text(digest + "\n")
    log("registered the portal's clients at identity")


def wait_live(port: int, deadline: float, should_stop: Callable[[], bool]) -> bool:
    url = f"http://127.0.0.1:{port}/health/live"
    while time.monotonic() < deadline and not should_stop():
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    return False


def main() -> int:
    data_dir = Path(os.environ.get("SAMEN_DATA_DIR", ROOT / ".data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name, port, has_db in SERVICES:
        prefix = name.upper()
        if has_db:
            env.setdefault(f"{prefix}_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / name}.db")
        env.setdefault(f"{prefix}_ENVIRONMENT", "development")
        env.setdefault(f"GATEWAY_{prefix}_URL", f"http://127.0.0.1:{port}")
    # Every part points at the others' ports (defaults unless *_PORT moved them): the
    # gateway is the issuer and public address, identity serves the keys and the feed.
    ports = {name: port for name, port, _has_db in SERVICES}
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    identity = f"http://127.0.0.1:{ports['identity']}"
    env.setdefault("IDENTITY_ISSUER", gateway)
    for name in ports:
        prefix = name.upper()
        env.setdefault(f"{prefix}_PUBLIC_URL", gateway)
        env.setdefault(f"{prefix}_AUTH_ISSUER", gateway)
        env.setdefault(f"{prefix}_AUTH_JWKS_URL", f"{identity}/auth/jwks")
    env.setdefault("PORTAL_GATEWAY_URL", gateway)
    env.setdefault("PROCUREMENT_REGISTRY_URL", f"http://127.0.0.1:{ports['registry']}")
    env.setdefault("PROCUREMENT_TOKEN_URL", f"{identity}/auth/token")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("PORTAL_CLIENT_KEY_FILE", str(data_dir / "portal-client-key.json"))

    prepare(data_dir, env)
    register_portal(data_dir, env)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop_all(*_args: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log("stopping ...")
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)

    for name, port, _has_db in SERVICES:
        processes[name] = subprocess.Popen(
            [PYTHON, "-m", name, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
        )
    # Generous: a loaded 2-core machine imports slowly (SAMEN_START_SECONDS for a busier one).
    deadline = time.monotonic() + float(os.environ.get("SAMEN_START_SECONDS", "180"))
    for name, port, _has_db in SERVICES:
        if not wait_live(port, deadline, lambda: stopping):
            if stopping:  # Ctrl-C while starting up
                return 0
            log(f"{name} did not become live on port {port}")
            stop_all()
            return 1
    gateway_port = SERVICES[-1][1]
    log("all services are up:")
    log(f"  portal (start here)  http://127.0.0.1:{gateway_port}/")
    for name, port, _has_db in SERVICES:
        log(f"  {name:<12} http://127.0.0.1:{port}")
    log(f"  developer portal  http://127.0.0.1:{gateway_port}/docs")
    log(f"  readiness         http://127.0.0.1:{gateway_port}/health/ready")
    log("press Ctrl-C to stop")

    while not stopping:
        for name, process in processes.items():
            code = process.poll()
            if code is not None and not stopping:
                log(f"{name} exited with code {code}; stopping the others")
                stop_all()
                return code or 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
