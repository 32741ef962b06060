"""`make bench`'s harness (bench/run_all.py) in a tiny mode: fake benches in a temporary
bench folder that write their results files at once, so the whole path (discovery,
tiny arguments, time bounds, failures, extraction, ratios, latest.md) runs in seconds.
The real benches are not part of `make test`."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "bench" / "run_all.py"

GATEWAY_BENCH = '''
import sys
from pathlib import Path
assert sys.argv[1:] == ["--duration", "2", "--connections", "4", "--rounds", "1"], sys.argv
out = Path(__file__).resolve().parents[1] / "results" / "gateway.md"
out.parent.mkdir(exist_ok=True)
out.write_text("""# Gateway benchmark

## The registry endpoint: GET x

| measure | value | target | met |
|---|---|---|---|
| gateway / nginx throughput (32 connections) | 0.95x | >= 0.9x | yes |
| added p50 at 1 connection (gateway - direct) | 1.5 ms | <= 1 ms | no |
| gateway / direct throughput | 0.5x | | |
""")
'''

REGISTRY_BENCH = """
import json, sys
from pathlib import Path
out = Path(__file__).with_name("results.json")
out.write_text(json.dumps({
    "scenarios": {"list_offerings": {"p95_ms": 20.0}, "radar": {"p95_ms": 150.0}},
    "targets_p95_ms": {"list_offerings": 25.0, "radar": 100.0},
    "server_memory_mb": {"VmHWM": 100.0},
    "rss_target_mb": 150,
}))
"""

FAILING_BENCH = "import sys; sys.exit(3)\n"


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("samen_bench_run_all", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_ratios_against_upper_and_lower_bounds() -> None:
    harness = load_harness()
    assert harness.judge(20.0, "<= 25 ms") == ("0.80", "yes")
    assert harness.judge(50.0, "p95 <= 25 ms") == ("2.00", "no")
    assert harness.judge(0.45, ">= 0.9x") == ("0.50", "no")
    assert harness.judge(1000.0, ">= 1000") == ("1.00", "yes")
    assert harness.judge(None, "<= 1 ms") == ("", "")
    assert harness.judge(3.0, "") == ("", "")


def test_harness_runs_every_bench_in_tiny_mode_and_writes_latest(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    for part, name, code in (
        ("gateway", "run.py", GATEWAY_BENCH),
        ("registry", "run.py", REGISTRY_BENCH),
        ("newpart", "bench.py", "print('no tiny mode: never run in --tiny')\n"),
    ):
        (bench / part).mkdir(parents=True)
        (bench / part / name).write_text(code)
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--root", str(bench), "--tiny", "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    latest = (bench / "results" / "latest.md").read_text()
    assert "Machine: " in latest
    assert "CPUs" in latest
    # The machine's speed before and after, so runs on different days can be compared.
    assert re.search(r"yardstick .*: \d+\.\d ms before the benches, \d+\.\d ms after", latest)
    assert "| gateway | ok |" in latest
    assert "| registry | ok |" in latest
    assert "| newpart | skipped (no tiny mode) |" in latest
    assert (
        "| gateway | The registry endpoint: gateway / nginx throughput (32 connections) "
        "| 0.95x | >= 0.9x | 1.06 | yes |"
    ) in latest
    assert "| 1.5 ms | <= 1 ms | 1.50 | no |" in latest
    assert "gateway / direct throughput" not in latest  # no target, no row
    assert "| registry | list_offerings p95 | 20 ms | <= 25 ms | 0.80 | yes |" in latest
    assert "| registry | radar p95 | 150 ms | <= 100 ms | 1.50 | no |" in latest
    assert "| registry | server peak RSS | 100 MB | <= 150 MB | 0.67 | yes |" in latest
    assert "Targets met: 3; missed: 2." in latest
    assert "newpart: no extractor" in latest
    assert "identity: no results file" in latest


def test_a_failing_bench_fails_the_run_but_still_reports(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    (bench / "registry").mkdir(parents=True)
    (bench / "registry" / "run.py").write_text(FAILING_BENCH)
    (bench / "registry" / "results.json").write_text(json.dumps({"scenarios": {}}))
    out = tmp_path / "latest.md"
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--root", str(bench), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "| registry | failed (exit 3) |" in out.read_text()


def test_soak_errors_are_judged_against_none(tmp_path: Path) -> None:
    harness = load_harness()
    soak = tmp_path / "soak.md"
    soak.write_text(
        "# Soak\n\n## Answers by status (anything not 2xx is an error)\n\n"
        "| kind | requests | statuses | errors | target |\n|---|---|---|---|---|\n"
        "| read | 3000 | 200: 3000 | 0 | errors <= 0 |\n"
        "| write | 400 | 200: 396, 500: 4 | 4 | errors <= 0 |\n"
        "| transport failures | 2 | - | 2 | errors <= 0 |\n"
        "\n## Latency per kind (ms)\n\n| kind | p50 | p95 |\n|---|---|---|\n| read | 5 | 9 |\n",
        encoding="utf-8",
    )
    rows = {r.measure: r for r in harness.markdown_target_rows("soak", soak)}
    assert set(rows) == {"Answers by status (anything not 2xx is an error): " + kind
                         for kind in ("read", "write", "transport failures")}  # fmt: skip
    read = rows["Answers by status (anything not 2xx is an error): read"]
    write = rows["Answers by status (anything not 2xx is an error): write"]
    assert (read.value, read.met) == ("0", "yes")  # the errors column, not the requests
    assert (write.value, write.met) == ("4", "no")
    assert rows["Answers by status (anything not 2xx is an error): transport failures"].met == "no"
