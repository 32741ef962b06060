"""Build, push and pin the images of every part (`make images`, `make images-push`,
`make release-pin`; deploy/README.md "Images and releases").

    python deploy/images.py tags                  the part -> version table (from pyproject.toml)
    python deploy/images.py build [--registry R]  sync the tags into base, then docker build
    python deploy/images.py push  [--registry R]  docker push every image
    python deploy/images.py pin   [--registry R]  write each pushed image's digest into the
                                                  production overlay (a release: what runs is
                                                  exactly what was tested, whatever the tag)

A part is every folder with a Dockerfile (services/*, gateway, portal); its version is its
package's. The tag lives in one place, deploy/k8s/base/kustomization.yaml (`images:`), which
`build` keeps in step; overlays set only the registry (newName) and, after `pin`, digests.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "deploy" / "k8s" / "base" / "kustomization.yaml"
PRODUCTION = ROOT / "deploy" / "k8s" / "overlays" / "production" / "kustomization.yaml"
DEFAULT_REGISTRY = "registry.example.org/samen"
DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


def parts() -> dict[str, tuple[Path, str]]:
    """part -> (Dockerfile, version), e.g. registry -> (services/registry/Dockerfile, 0.1.0)."""
    found: dict[str, tuple[Path, str]] = {}
    for dockerfile in sorted(ROOT.glob("*/Dockerfile")) + sorted(
        ROOT.glob("services/*/Dockerfile")
    ):
        folder = dockerfile.parent
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        found[folder.name] = (dockerfile.relative_to(ROOT), str(project["version"]))
    return found


def _image_block(text: str) -> tuple[int, int]:
    start = text.index("\nimages:\n") + 1
    match = re.search(r"\n(?=\S)", text[start + len("images:\n") :])
    end = start + len("images:\n") + (match.start() + 1 if match else len(text))
    return start, end


def sync_tags() -> bool:
    """Write every part's version as its newTag in base; True when the file changed."""
    text = BASE.read_text()
    start, end = _image_block(text)
    lines = ["images:\n", "  # The packages' versions (deploy/images.py keeps them in step).\n"]
    for part, (_dockerfile, version) in parts().items():
        lines += [f"  - name: samen/{part}\n", f"    newTag: {version}\n"]
    new = text[:start] + "".join(lines) + text[end:]
    if new != text:
        BASE.write_text(new)
    return new != text


def docker(*args: str) -> str:
    executable = shutil.which("docker")
    if executable is None:
        raise SystemExit("docker is not installed (images are built with the Docker CLI)")
    done = subprocess.run(  # noqa: S603 (fixed program, arguments from this script)
        [executable, *args], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def pin(registry: str) -> dict[str, str]:
    """Each pushed image's digest into the production overlay's `images:` entries."""
    text = PRODUCTION.read_text()
    digests: dict[str, str] = {}
    for part, (_dockerfile, version) in parts().items():
        ref = f"{registry}/{part}:{version}"
        repo_digests = docker("image", "inspect", "--format", '{{join .RepoDigests "\\n"}}', ref)
        found = [
            DIGEST.search(line).group(1)  # type: ignore[union-attr]
            for line in repo_digests.split()
            if line.startswith(f"{registry}/{part}@") and DIGEST.search(line)
        ]
        if not found:
            raise SystemExit(f"{ref} has no digest in {registry}: push it first")
        digests[part] = found[0]
        entry = re.compile(
            rf"(  - name: samen/{re.escape(part)}\n    newName: [^\n]+\n)(    digest: [^\n]+\n)?"
        )
        if not entry.search(text):
            raise SystemExit(f"{PRODUCTION}: no images entry for samen/{part}")
        pinned = f"    digest: {digests[part]}\n"
        text = entry.sub(lambda m, line=pinned: f"{m.group(1)}{line}", text, count=1)
    PRODUCTION.write_text(text)
    return digests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="deploy/images.py")
    parser.add_argument("action", choices=["tags", "build", "push", "pin"])
    parser.add_argument("--registry", default=DEFAULT_REGISTRY)
    args = parser.parse_args(argv)
    table = parts()
    if args.action == "tags":
        for part, (_dockerfile, version) in table.items():
            print(f"{part} {version}")
        return
    if args.action == "build":
        if sync_tags():
            print(f"{BASE.relative_to(ROOT)}: tags updated to the packages' versions")
        for part, (dockerfile, version) in table.items():
            print(f"building {args.registry}/{part}:{version}", flush=True)
            docker("build", "-f", str(dockerfile), "-t", f"{args.registry}/{part}:{version}",
                   "-t", f"samen/{part}:{version}", ".")  # fmt: skip
        return
    if args.action == "push":
        for part, (_dockerfile, version) in table.items():
            print(f"pushing {args.registry}/{part}:{version}", flush=True)
            docker("push", f"{args.registry}/{part}:{version}")
        return
    for part, digest in pin(args.registry).items():
        print(f"pinned samen/{part} to {digest}")


if __name__ == "__main__":
    sys.exit(main())
