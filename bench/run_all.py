"""`make bench`: run every part's benchmark that exists, then write one table of figures
against their targets to ``bench/results/latest.md``.

    .venv/bin/python bench/run_all.py                # run everything (minutes), then report
    .venv/bin/python bench/run_all.py --tiny         # small sizes where a bench has them
    .venv/bin/python bench/run_all.py --only gateway --only registry
    .venv/bin/python bench/run_all.py --report-only  # just rebuild latest.md from the
                                                     # results the benches last wrote

Each bench is its own script under ``bench/<part>/`` (``run.py`` or ``bench.py``) and
writes its own results file; this harness only starts them one after the other (never
in parallel: they would measure each other), bounds each run in time, and reads the
results back:

| part        | results file                    | figures taken                              |
|-------------|---------------------------------|--------------------------------------------|
| registry    | bench/registry/results.json     | p95 per scenario, server RSS               |
| identity    | bench/identity/results.json     | grants/s, logins/s, server RSS             |
| gateway     | bench/results/gateway.md        | rows of its "measure / value / target" table |
| procurement | bench/results/procurement.md    | rows of its tables that name a target      |
| soak        | bench/results/soak.md           | errors per kind of request (none allowed)  |

A part with a bench script but no extractor still gets a row (its results file is
listed), so a new bench is never silently left out. Ratios are measured / target: for an
upper bound (``<=``) below 1 is met, for a lower bound (``>=``) at least 1 is met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ("run.py", "bench.py")
# Arguments that make a bench small (for --tiny); a part missing here has no tiny mode.
TINY_ARGS: dict[str, list[str]] = {
    "registry": ["--suppliers", "10", "--facilities", "10", "--offerings", "200",
                 "--usages", "200", "--requests", "40", "--concurrency", "8",
                 "--seconds", "1"],
    "identity": ["--seconds", "2", "--concurrency", "4", "--login-concurrency", "2",
                 "--workers", "1"],
    "gateway": ["--duration", "2", "--connections", "4", "--rounds", "1"],
}  # fmt: skip


@dataclass
class Row:
    part: str
    measure: str
    value: str
    target: str = ""
    ratio: str = ""
    met: str = ""


@dataclass
class Run:
    part: str
    command: list[str]
    seconds: float
    status: str  # ok | failed (code) | timeout | skipped (why)


# ------------------------------------------------------------------ targets and ratios

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
BOUND = re.compile(r"(<=|>=|≤|≥)\s*(-?\d+(?:\.\d+)?)")


def first_number(text: str) -> float | None:
    match = NUMBER.search(text.replace(",", ""))
    return float(match.group()) if match else None


def judge(value: float | None, target: str) -> tuple[str, str]:
    """(ratio, met) of a value against a target like '<= 25 ms' or '>= 0.9x'."""
    bound = BOUND.search(target)
    if value is None or bound is None:
        return "", ""
    op, limit = bound.group(1), float(bound.group(2))
    if limit == 0:
        return "", ("yes" if (value <= 0 if op in ("<=", "≤") else value >= 0) else "no")
    ratio = value / limit
    met = ratio <= 1 if op in ("<=", "≤") else ratio >= 1
    return f"{ratio:.2f}", "yes" if met else "no"


def row(part: str, measure: str, value: float | None, unit: str, target: str) -> Row:
    ratio, met = judge(value, target)
    shown = "n/a" if value is None else f"{value:g} {unit}".strip()
    return Row(part, measure, shown, target, ratio, met)


# ------------------------------------------------------------------ extractors


def registry_rows(root: Path) -> list[Row]:
    path = root / "registry" / "results.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    targets = data.get("targets_p95_ms", {})
    for name, figures in data.get("scenarios", {}).items():
        target = targets.get(name)
        rows.append(
            row("registry", f"{name} p95", figures.get("p95_ms"), "ms",
                f"<= {target:g} ms" if target is not None else "")
        )  # fmt: skip
    memory = data.get("server_memory_mb") or {}
    peak = memory.get("VmHWM") if isinstance(memory, dict) else memory
    if peak is not None:
        limit = data.get("rss_target_mb", 150)
        rows.append(row("registry", "server peak RSS", float(peak), "MB", f"<= {limit} MB"))
    return rows


def identity_rows(root: Path) -> list[Row]:
    path = root / "identity" / "results.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    targets = data.get("targets", {})
    rows = []
    for name, figures in data.items():
        if not isinstance(figures, dict) or "per_second" not in figures:
            continue
        goal = (
            targets.get("logins_per_second")
            if "login" in name
            else targets.get("grants_per_second")
        )
        rows.append(
            row("identity", f"{name} per second", figures["per_second"], "/s",
                f">= {goal}" if goal else "")
        )  # fmt: skip
    if "server_rss_mb" in data:
        rows.append(
            row("identity", "server RSS (all workers)", data["server_rss_mb"], "MB",
                f"<= {targets.get('rss_mb', 150)} MB")
        )  # fmt: skip
    return rows


def markdown_target_rows(part: str, path: Path) -> list[Row]:
    """Rows of every table whose header has a 'target' column, where a target is given."""
    rows: list[Row] = []
    header: list[str] | None = None
    section = ""  # the "## ..." heading above a table: the same measure may appear twice
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("## "):
            section = line[3:].strip().split(":")[0]
        if not line.strip().startswith("|"):
            header = None
            continue
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line.replace("|", "").strip()) <= {"-", ":", " "}:
            continue  # the separator line
        target_columns = [i for i, name in enumerate(header) if "target" in name]
        if not target_columns or len(cells) != len(header):
            continue
        # "p95 <= 100 ms (**missed**)": the bench's own verdict is recomputed here.
        target = re.sub(r"\((?:\*\*)?(?:met|missed)(?:\*\*)?\)", "", cells[target_columns[0]])
        target = target.replace("*", "").strip()
        if not BOUND.search(target):
            continue
        # The measured value is the column after the first (name) one, unless a column
        # is called "value" or the target names a column ("p95 <= 100 ms", "errors <= 0").
        value_index = header.index("value") if "value" in header else 1
        named = re.match(r"(\w+)\s*(?:<=|>=|≤|≥)", target)
        if named and named.group(1) in header:
            value_index = header.index(named.group(1))
        percentile = re.match(r"(p\d+)", target)
        value_text = cells[value_index]
        if "/" in value_text and percentile:  # "52014 ms / 147534 ms" is "p50 / p99"
            parts = [p.strip() for p in value_text.split("/")]
            names = re.findall(r"p\d+", cells[0])
            if percentile.group(1) in names and len(parts) == len(names):
                value_text = parts[names.index(percentile.group(1))]
        value = first_number(value_text)
        ratio, met = judge(value, target)
        measure = cells[0].strip("`")
        if section:
            measure = f"{section}: {measure}"
        rows.append(Row(part, measure, value_text, target, ratio, met))
    return rows


EXTRACTORS: dict[str, tuple[str, Callable[[Path], list[Row]]]] = {
    "registry": ("registry/results.json", registry_rows),
    "identity": ("identity/results.json", identity_rows),
    "gateway": (
        "results/gateway.md",
        lambda root: markdown_target_rows("gateway", root / "results" / "gateway.md"),
    ),
    "procurement": (
        "results/procurement.md",
        lambda root: markdown_target_rows("procurement", root / "results" / "procurement.md"),
    ),
    "soak": (
        "results/soak.md",
        lambda root: markdown_target_rows("soak", root / "results" / "soak.md"),
    ),
}


# ------------------------------------------------------------------ running


def benches(root: Path) -> dict[str, Path]:
    """part → its bench script, for every bench/<part>/ that has one."""
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "results"):
        for name in SCRIPTS:
            if (folder / name).is_file():
                found[folder.name] = folder / name
                break
    return found


def run_bench(part: str, script: Path, tiny: bool, timeout: float) -> Run:
    command = [sys.executable, str(script)]
    if tiny:
        if part not in TINY_ARGS:
            return Run(part, command, 0.0, "skipped (no tiny mode)")
        command += TINY_ARGS[part]
    started = time.monotonic()
    print(f"[bench] {part}: {' '.join(command[1:])}", flush=True)
    try:
        done = subprocess.run(command, cwd=ROOT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Run(part, command, time.monotonic() - started, f"timeout after {timeout:.0f} s")
    status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
    return Run(part, command, time.monotonic() - started, status)


def machine() -> str:
    cpus = os.cpu_count() or 0
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text(encoding="utf-8").splitlines()[0]
        kib = first_number(first)
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM" if kib else ""
    return (
        f"{platform.node()} — {platform.system()} {platform.release()}, {cpus} CPUs"
        f"{' (' + model + ')' if model else ''}{memory}, Python {platform.python_version()}, "
        f"load average {load}"
    )


def yardstick_ms() -> float:
    """Milliseconds this machine takes for a fixed piece of single-threaded Python work
    (JSON of one document, 400 times; best of 5). The work never changes, so the figure
    tells a slower or busier machine from slower product code when runs are compared."""
    doc = {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(50)]}
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(400):
            json.loads(json.dumps(doc))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def report(
    root: Path,
    runs: list[Run],
    scripts: dict[str, Path],
    yardsticks: tuple[float, float] | None = None,
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks: latest figures against the targets",
        "",
        f"Written by `bench/run_all.py` on {now}.",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    if yardsticks:
        lines += [
            f"Machine speed yardstick (`yardstick_ms`, the same Python work every run; lower is "
            f"faster): {yardsticks[0]:.1f} ms before the benches, {yardsticks[1]:.1f} ms after.",
            "",
        ]
    lines += [
        "Every bench runs its load generator, server and database on this one machine, "
        "so the figures include their contention (and any other work running at the "
        "time). The per-part results files hold the details.",
        "",
    ]
    if runs:
        lines += ["| part | run | seconds |", "|---|---|---|"]
        lines += [f"| {r.part} | {r.status} | {r.seconds:.0f} |" for r in runs]
        lines.append("")
    lines += [
        "| part | measure | value | target | ratio | met |",
        "|---|---|---|---|---|---|",
    ]
    problems = []
    for part in sorted(set(scripts) | set(EXTRACTORS)):
        if part not in EXTRACTORS:
            problems.append(f"- {part}: no extractor for its results yet (see its folder)")
            continue
        relative, extract = EXTRACTORS[part]
        path = root / relative
        if not path.exists():
            problems.append(f"- {part}: no results file `bench/{relative}` (bench not run)")
            continue
        try:
            rows = extract(root)
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"- {part}: `bench/{relative}` could not be read ({exc})")
            continue
        when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M")
        for r in rows:
            lines.append(
                f"| {r.part} | {r.measure} | {r.value} | {r.target} | {r.ratio} | {r.met} |"
            )
        lines.append(f"| {part} | (results file `bench/{relative}`, {when} UTC) | | | | |")
    met = sum(1 for line in lines if line.endswith("| yes |"))
    missed = sum(1 for line in lines if line.endswith("| no |"))
    lines += ["", f"Targets met: {met}; missed: {missed}."]
    if problems:
        lines += ["", "Not reported:", *problems]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes where supported")
    parser.add_argument("--only", action="append", default=[], help="run only this part")
    parser.add_argument("--report-only", action="store_true", help="do not run, only report")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per bench")
    parser.add_argument("--root", default=str(ROOT / "bench"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="default: <root>/results/latest.md")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    scripts = benches(root)
    runs: list[Run] = []
    yardsticks = None
    if not args.report_only:
        before = yardstick_ms()
        for part, script in scripts.items():
            if args.only and part not in args.only:
                continue
            runs.append(run_bench(part, script, args.tiny, args.timeout))
        yardsticks = (before, yardstick_ms())
    text = report(root, runs, scripts, yardsticks)
    out = Path(args.out) if args.out else root / "results" / "latest.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    return 1 if any(r.status.startswith(("failed", "timeout")) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
