"""A stand-in for kubectl (put on PATH as `kubectl`) that keeps Secrets as JSON files in
$FAKE_KUBE_STATE and logs every call: enough of `get`, `create` and `create secret
--dry-run=client -o yaml` for deploy/k8s/create-secrets.sh. Any other verb (apply,
replace, patch, delete, edit) fails loudly: the script must never use one."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

state = Path(os.environ["FAKE_KUBE_STATE"])
args = sys.argv[1:]
with (state / "calls.log").open("a") as log:
    log.write(
        " ".join(a if not a.startswith("--from-literal") else "--from-literal=…" for a in args)
        + "\n"
    )

namespace = "default"
if args[:1] == ["-n"]:
    namespace, args = args[1], args[2:]


def path(kind: str, name: str) -> Path:
    return state / f"{namespace}.{kind}.{name}.json"


if args[:2] == ["get", "namespace"]:
    sys.exit(0 if (state / f"namespace.{args[2]}").exists() else 1)
if args[:2] == ["create", "namespace"]:
    (state / f"namespace.{args[2]}").touch()
    sys.exit(0)
if args[:2] == ["get", "secret"]:
    sys.exit(0 if path("secret", args[2]).exists() else 1)
if args[:3] == ["create", "secret", "generic"] and "--dry-run=client" in args:
    data: dict[str, str] = {}
    kind_type = "Opaque"
    for arg in args[4:]:
        if arg.startswith("--from-literal="):
            key, _, value = arg.removeprefix("--from-literal=").partition("=")
            data[key] = value
        elif arg.startswith("--type="):
            kind_type = arg.removeprefix("--type=")
    secret = {
        "kind": "Secret",
        "metadata": {"name": args[3]},
        "type": kind_type,
        "stringData": data,
    }
    print(json.dumps(secret))  # JSON is YAML
    sys.exit(0)
if args[:3] == ["create", "-f", "-"]:
    obj = json.loads(sys.stdin.read())
    target = path("secret", obj["metadata"]["name"])
    if target.exists():
        print(
            f'Error from server (AlreadyExists): secrets "{target.stem}" already exists',
            file=sys.stderr,
        )
        sys.exit(1)
    target.write_text(json.dumps(obj, sort_keys=True))
    sys.exit(0)
print(f"fake kubectl: refusing {' '.join(args)}", file=sys.stderr)
sys.exit(2)
