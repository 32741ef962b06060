"""schemathesis against every service's OpenAPI document (in-process).

Smoke (``make test``): a few derandomised examples per operation: no 5xx, and every
response conforms to the documented status codes, content types, headers and schemas.
Long run (``make fuzz``): the nightly hypothesis profile, many examples per operation.
"""

from __future__ import annotations

from typing import Any

import pytest
from contractkit import (
    BASE_URL,
    HEADERS,
    SMOKE,
    identity_app,
    load_schema,
    nightly_active,
    procurement_app,
    registry_app,
)
from hypothesis import settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

APPS = {"registry": registry_app(), "procurement": procurement_app(), "identity": identity_app()}
registry = load_schema(APPS["registry"], coverage=False)
procurement = load_schema(APPS["procurement"], coverage=False)
identity = load_schema(APPS["identity"], coverage=False)
registry_all = load_schema(APPS["registry"])
procurement_all = load_schema(APPS["procurement"])
identity_all = load_schema(APPS["identity"])

smoke = pytest.mark.smoke
long_run = pytest.mark.skipif(
    not nightly_active(), reason="long contract run: `make fuzz` (--hypothesis-profile=nightly)"
)
# The smoke budget unless the nightly profile was chosen on the command line.
budget = settings() if nightly_active() else settings(settings.get_profile(SMOKE))


def _check(case: Any, service: str) -> None:
    case.call_and_validate(base_url=BASE_URL, headers=HEADERS[service], checks=CHECKS)


@smoke
@registry.parametrize()
@budget
def test_registry_smoke(case: Any, contract_databases: dict[str, str]) -> None:
    _check(case, "registry")


@smoke
@procurement.parametrize()
@budget
def test_procurement_smoke(case: Any, contract_databases: dict[str, str]) -> None:
    _check(case, "procurement")


@smoke
@identity.parametrize()
@budget
def test_identity_smoke(case: Any, contract_databases: dict[str, str]) -> None:
    _check(case, "identity")


@long_run
@registry_all.parametrize()
def test_registry_fuzz(case: Any, contract_databases: dict[str, str]) -> None:
    _check(case, "registry")


@long_run
@procurement_all.parametrize()
def test_procurement_fuzz(case: Any, contract_databases: dict[str, str]) -> None:
    _check(case, "procurement")


@long_run
@identity_all.parametrize()
def test_identity_fuzz(case: Any, contract_databases: dict[str, str]) -> None:
    _check(case, "identity")
