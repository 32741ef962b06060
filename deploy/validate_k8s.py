"""Validate rendered Kubernetes manifests against the upstream schemas (kubernetes-validate)
and the custom resources against the schemas vendored in deploy/k8s/schemas.

Usage: python deploy/validate_k8s.py RENDERED.yaml [...]  (run by deploy/check.sh in a
throwaway environment that has kubernetes-validate and PyYAML).

Every built-in object is validated strictly (unknown fields are errors) for each Kubernetes
version in KUBERNETES_VERSIONS. Objects of the custom resources (CloudNativePG, Prometheus
operator) are validated against deploy/k8s/schemas/<group>_<version>_<kind>.json, which
kubernetes-validate does not ship (deploy/k8s/schemas/README.md). Any kind without a schema
is an error, so a typo in an apiVersion cannot pass silently.
"""

from __future__ import annotations

import sys
from pathlib import Path

import kubernetes_validate
import yaml
from crd_schemas import CUSTOM_GROUPS, custom_errors

# The oldest minor we support and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def main(paths: list[str]) -> int:
    failures = 0
    checked = custom = 0
    for path in paths:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not doc:
                continue
            kind, api = doc.get("kind"), doc.get("apiVersion", "")
            name = f"{Path(path).stem}: {kind}/{doc.get('metadata', {}).get('name')}"
            group = api.split("/")[0] if "/" in api else ""
            if group in CUSTOM_GROUPS:
                errors = custom_errors(doc)
                for error in errors:
                    print(f"FAIL {name} ({api}, vendored schema) at {error}")
                failures += len(errors)
                custom += 1
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
        f" unless listed as FAIL; {custom} custom resources against deploy/k8s/schemas;"
        f" {failures} failures"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
