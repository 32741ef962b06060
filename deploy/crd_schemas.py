"""Custom resources (CloudNativePG, Prometheus operator) against the JSON Schemas vendored
in deploy/k8s/schemas (kubernetes-validate ships only the built-in API schemas). Used by
deploy/validate_k8s.py and tests/deploy/test_operations.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).parent / "k8s" / "schemas"
# Custom resource groups, validated against SCHEMAS instead of kubernetes-validate.
CUSTOM_GROUPS = ("postgresql.cnpg.io", "monitoring.coreos.com")


def custom_errors(doc: dict[str, Any]) -> list[str]:
    """Where ``doc`` breaks its vendored schema (a missing schema is an error too)."""
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    schema_file = SCHEMAS / f"{api.replace('/', '_')}_{str(kind).lower()}.json"
    if not schema_file.exists():
        return [f"no vendored schema {schema_file.name}"]
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '.'}: {error.message}"
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]
