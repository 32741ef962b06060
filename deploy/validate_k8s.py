"""Validate rendered Kubernetes manifests against the upstream schemas (kubernetes-validate).

Usage: python deploy/validate_k8s.py RENDERED.yaml [...]  (run by deploy/check.sh in a
throwaway environment that has kubernetes-validate and PyYAML).

Every object is validated strictly (unknown fields are errors) for each Kubernetes version
in KUBERNETES_VERSIONS. Objects of the custom resources below are skipped, with the reason
printed: kubernetes-validate ships only the built-in API schemas. Any other kind without a
schema is an error, so a typo in an apiVersion cannot pass silently.
"""

from __future__ import annotations

import sys
from pathlib import Path

import kubernetes_validate
import yaml

# The oldest minor we support and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

# apiVersion group -> why its objects are not schema-checked here.
SKIPPED_GROUPS = {
    "postgresql.cnpg.io": (
        "CloudNativePG custom resource: its schema ships with the operator's CRDs, "
        "not with kubernetes-validate; the operator validates it on apply"
    ),
}


def main(paths: list[str]) -> int:
    failures = 0
    checked = skipped = 0
    for path in paths:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not doc:
                continue
            kind, api = doc.get("kind"), doc.get("apiVersion", "")
            name = f"{Path(path).stem}: {kind}/{doc.get('metadata', {}).get('name')}"
            group = api.split("/")[0] if "/" in api else ""
            if group in SKIPPED_GROUPS:
                skipped += 1
                print(f"SKIP {name} ({api}): {SKIPPED_GROUPS[group]}")
                continue
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    failures += 1
                    where = "/".join(str(p) for p in exc.path)
                    print(f"FAIL {name} (k8s {version}) at {where}: {exc.message}")
                except (
                    kubernetes_validate.SchemaNotFoundError,
                    kubernetes_validate.InvalidSchemaError,
                ) as exc:
                    failures += 1
                    print(f"FAIL {name} (k8s {version}): no schema ({exc})")
            checked += 1
    print(
        f"kubernetes-validate: {checked} objects valid for k8s {', '.join(KUBERNETES_VERSIONS)}"
        f" unless listed as FAIL; {skipped} custom resources skipped; {failures} failures"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
