"""Dockerfiles, .dockerignore and the per-package runtime locks they install from."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
from deploy_helpers import ROOT, SERVICES

LOCKS = {service: ROOT / d / "requirements.lock" for service, (_m, d, _p, _g) in SERVICES.items()}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    ins = instructions(dockerfile)
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_rules(service: str) -> None:
    _module, pkg_dir, port, _migrates = SERVICES[service]
    dockerfile = ROOT / pkg_dir / "Dockerfile"
    ins = instructions(dockerfile)
    froms = [args for word, args in ins if word == "FROM"]
    assert len(froms) >= 2, "multi-stage: a builder and a slim runtime"
    for image in froms:
        ref = image.split()[0]
        if ref in {"uv", "builder"}:
            continue
        _name, _, tag = ref.partition(":")
        assert tag, f"{ref}: base images are pinned by tag"
        assert tag.split("@")[0] not in {"latest", ""}, ref
        assert re.search(r"\d+\.\d+", tag), f"{ref}: pin a version, not a moving tag"
    runtime = final_stage(dockerfile)
    assert "slim" in runtime[0][1], "the runtime stage is a slim image"
    words = [w for w, _ in runtime]
    users = [args for w, args in runtime if w == "USER"]
    assert users == ["10001:10001"], "non-root with a fixed UID:GID"
    assert ("EXPOSE", str(port)) in runtime
    healthcheck = next(args for w, args in runtime if w == "HEALTHCHECK")
    assert f"127.0.0.1:{port}/health/live" in healthcheck
    cmd = json.loads(next(args for w, args in runtime if w == "CMD"))  # exec form is JSON
    assert cmd == ["python", "-m", service, "serve", "--host", "0.0.0.0", "--port", str(port)]  # noqa: S104
    assert "ENTRYPOINT" not in words
    # Runtime: no package manager runs, nothing but the built venv is copied in.
    assert all(not (w == "RUN" and re.search(r"\b(pip|uv|apt-get)\b", a)) for w, a in runtime)
    copies = [a for w, a in runtime if w == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    env = " ".join(a for w, a in ins if w in {"ENV", "ARG"})
    assert not re.search(r"(PASSWORD|SECRET|TOKEN|_KEY)\b", env, re.IGNORECASE), "no secrets"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_installs_its_own_lock_and_workspace_packages(service: str) -> None:
    pkg_dir = SERVICES[service][1]
    dockerfile = ROOT / pkg_dir / "Dockerfile"
    ins = instructions(dockerfile)
    runs = " ".join(a for w, a in ins if w == "RUN")
    assert f"{pkg_dir}/requirements.lock" in runs
    assert "--require-hashes" in runs
    assert "--no-deps" in runs
    # Every workspace package the lock names is copied in and installed from source.
    workspace = [
        line.removeprefix("./")
        for line in LOCKS[service].read_text().splitlines()
        if line.startswith("./")
    ]
    assert pkg_dir in workspace
    copied = {a.split()[0] for w, a in ins if w == "COPY" and not a.startswith("--from")}
    for path in workspace:
        assert path in copied, f"{path} is in the lock but not copied"
        assert f"./{path}" in runs, f"{path} is in the lock but not installed"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such path"
        assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"


def dockerignored(path: str) -> bool:
    """Whether .dockerignore excludes `path` (last matching pattern wins; `!` re-includes)."""
    excluded = False
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        for candidate in prefixes:
            if fnmatch.fnmatch(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatch(candidate, pattern[3:])
            ):
                excluded = not negate
                break
    return excluded


def test_dockerignore_keeps_local_state_out() -> None:
    for path in (".git", ".venv", ".env", "tests", "bench", ".data", "node_modules", "deploy"):
        assert dockerignored(path), path
    for path in ("services/registry/.data", "libs/servicekit/src/x/__pycache__", "gateway/.env"):
        assert dockerignored(path), path
    for path in ("libs/servicekit", "services/identity/src", "gateway/requirements.lock"):
        assert not dockerignored(path), path


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_lock_is_hash_pinned_without_urls(service: str) -> None:
    text = LOCKS[service].read_text()
    assert "://" not in text, "no URLs (index, VCS or file) in a lock"
    assert "git+" not in text
    requirements = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#", "./"))
    ]
    assert requirements, "the lock lists third-party packages"
    for line in requirements:
        assert re.match(r"^[A-Za-z0-9_.\-\[\],]+==[^ ]+", line), f"not pinned: {line}"
        assert line.endswith("\\"), f"no hashes follow: {line}"
    # Runtime only: none of the workspace's dev tools.
    names = {line.split("==")[0].lower() for line in requirements}
    assert not names & {"pytest", "ruff", "mypy", "schemathesis", "playwright", "respx"}


def pinned_entries(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """``name -> (version, hashes)`` of a hash-pinned requirements file."""
    entries: dict[str, tuple[str, frozenset[str]]] = {}
    name = version = None
    hashes: set[str] = set()
    for raw in [*text.splitlines(), ""]:
        line = raw.strip()
        if re.match(r"^[A-Za-z0-9_.\-\[\],]+==", line) or not line or line.startswith("#"):
            if name and version:
                entries[name] = (version, frozenset(hashes))
            name = version = None
            hashes = set()
            if line and not line.startswith("#"):
                spec = line.split(" ", 1)[0].rstrip("\\").strip()
                base, version = spec.split("==", 1)
                name = re.sub(r"\[.*\]", "", base).lower().replace("_", "-")
            continue
        hashes.update(re.findall(r"--hash=(sha256:[0-9a-f]+)", line))
    return entries


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_package_lock_agrees_with_requirements_lock(service: str) -> None:
    """Each image installs exactly the versions and hashes the workspace was tested with.

    (uv.lock is untracked, so the check is offline against the committed
    requirements.lock; deploy/lock.sh regenerates the per-package locks.)"""
    workspace = pinned_entries((ROOT / "requirements.lock").read_text())
    package = pinned_entries(LOCKS[service].read_text())
    assert package, "no pinned packages found"
    for name, (version, hashes) in package.items():
        assert name in workspace, f"{name} is not in requirements.lock: run deploy/lock.sh"
        assert workspace[name][0] == version, (
            f"{name}=={version} but requirements.lock has {workspace[name][0]}: run deploy/lock.sh"
        )
        assert hashes, f"{name}: no hashes"
        assert hashes <= workspace[name][1], f"{name}: hashes differ"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_healthcheck_is_valid_python(service: str) -> None:
    runtime = final_stage(ROOT / SERVICES[service][1] / "Dockerfile")
    healthcheck = next(args for w, args in runtime if w == "HEALTHCHECK")
    cmd = json.loads(healthcheck[healthcheck.index("CMD ") + 4 :])
    assert cmd[:2] == ["python", "-c"]
    compile(cmd[2], f"{service}-healthcheck", "exec")


def runtime_closure(distribution: str) -> set[str]:
    """Every distribution the package needs at run time on this platform and Python (the
    image's), from the installed packages' metadata: its requirements, theirs, and so on,
    with the extras asked for and the markers that hold."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    needed: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(distribution, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        for line in metadata.distribution(name).requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return needed


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_package_lock_holds_everything_the_package_imports(service: str) -> None:
    """The image installs its lock with --no-deps: a dependency missing from the lock is
    missing from the image, and the service fails on its first import of it."""
    package = f"samen-{SERVICES[service][0].split('.')[0]}"
    locked = set(pinned_entries(LOCKS[service].read_text()))
    needed = {name for name in runtime_closure(package) if not name.startswith("samen-")}
    assert "fastapi" in needed  # the closure is read at all
    assert needed - locked == set(), f"missing from {LOCKS[service].relative_to(ROOT)}"


def test_the_deploy_check_lints_and_replays_every_image() -> None:
    """deploy/check.sh names its images one by one; an image left out is neither linted
    nor installed from its lock (the portal's once went unchecked that way)."""
    script = (ROOT / "deploy/check.sh").read_text()
    listed = re.search(r"DOCKERFILES=\(([^)]*)\)", script)
    assert listed is not None
    dockerfiles = set(listed.group(1).split())
    replayed = set(re.findall(r"^replay (\S+) (\S+) &", script, re.M))
    for service, (_module, directory, _port, _migrates) in SERVICES.items():
        assert f"{directory}/Dockerfile" in dockerfiles, service
        assert (service, directory) in replayed, service
