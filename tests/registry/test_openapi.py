"""The registry's OpenAPI document: what the ADR linter and the other parts rely on.

The full linter (spectral with the ADR ruleset) runs in CI; these checks are the cheap,
always-available part of it plus the registry's own promises (scopes on every operation,
the contract other services read)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

METHODS = ("get", "post", "put", "patch", "delete")


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_operation_is_documented_and_protected(registry_app: FastAPI) -> None:
    doc = registry_app.openapi()
    ids = set()
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert op.get("operationId"), where
        assert op["operationId"] not in ids, where
        ids.add(op["operationId"])
        assert op.get("summary"), where
        assert op.get("tags"), where
        assert "400" in op["responses"], where
        assert "422" not in op["responses"] or method == "post", where
        scopes = [
            s for requirement in op.get("security", []) for s in requirement.get("oauth2", [])
        ]
        expected = ["registry:read" if method == "get" else "registry:write"]
        if path.endswith("/exposures"):
            expected.append("registry:exposure")
        assert scopes == expected, where
        for code, response in op["responses"].items():
            if code.startswith("2"):
                assert "API-Version" in response.get("headers", {}), (where, code)
            if code.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (where, code)
        assert path == path.lower() or "{" in path, where
        assert not path.endswith("/"), where


def test_contract_used_by_other_parts(registry_app: FastAPI) -> None:
    doc = registry_app.openapi()
    schemas = doc["components"]["schemas"]
    org = schemas["OrganisationOut"]["properties"]
    assert {"id", "type", "name", "cbsCode", "oin", "kvkNumber", "province", "memberIds"} <= set(
        org
    )
    usage = schemas["UsageOut"]["properties"]
    assert {"id", "municipalityId", "facilityId", "offeringId", "versionId", "status", "startDate",
            "contractEndDate", "noticePeriodMonths", "contractValueBand"} <= set(usage)  # fmt: skip
    assert usage["contractEndDate"]["format"] == "date"
    facility = schemas["FacilityOut"]["properties"]
    assert {"id", "slug", "name", "kind", "stage"} <= set(facility)
    params = {p["name"] for p in doc["paths"]["/organisations"]["get"]["parameters"]}
    assert {"type", "oin", "kvkNumber", "cbsCode", "q"} <= params
    params = {p["name"] for p in doc["paths"]["/usages"]["get"]["parameters"]}
    assert {"municipalityId", "facilityId", "status"} <= params
    params = {p["name"] for p in doc["paths"]["/facilities"]["get"]["parameters"]}
    assert "slug" in params
    for name, schema in schemas.items():
        for prop, spec in schema.get("properties", {}).items():
            if prop.endswith("Date"):
                assert spec.get("format") == "date", (name, prop)
            if prop.endswith("At"):
                assert spec.get("format") == "date-time" or "anyOf" in spec, (name, prop)
