"""`make run`'s supervisor: migrates, starts all five parts, registers the portal's clients,
prints the portal's URL first, reports ready, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_run_starts_all_parts_and_stops_them_on_sigint(tmp_path: Path) -> None:
    parts = ("gateway", "identity", "registry", "procurement", "portal")
    ports = {name: free_port() for name in parts}
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_DATABASE_URL", "_URL"))}
    env["SAMEN_DATA_DIR"] = str(tmp_path / "data")
    for name, port in ports.items():
        env[f"{name.upper()}_PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + 300  # a loaded 2-core machine starts slowly
        # The supervisor says so once every part answers /health/live ...
        while not any("all services are up" in line for line in lines):
            assert process.poll() is None, f"the supervisor exited early: {lines}"
            assert time.monotonic() < deadline, "the parts never came up"
            time.sleep(0.3)
        # ... and then the gateway reports every upstream up and identity's revocation
        # feed read (until its first poll the details say "warn").
        ready = None
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{ports['gateway']}/health/details"
                with urllib.request.urlopen(url, timeout=2) as response:
                    ready = json.load(response)
                if ready["status"] == "pass":
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert ready is not None, "the gateway never became ready"
        assert ready["status"] == "pass", ready
        assert (tmp_path / "data" / "registry.db").exists()
        assert (tmp_path / "data" / "portal.db").exists()
        assert (tmp_path / "data" / "portal-client-key.json").exists()
        # The portal comes first: it is where a newcomer starts.
        urls = [line for line in lines if "http://" in line]
        assert f"http://127.0.0.1:{ports['gateway']}/" in urls[0]
        assert "portal" in urls[0]
        assert any("registered the portal's clients" in line for line in lines)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        reader.join(timeout=10)
    assert process.returncode == 0
    for port in ports.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
