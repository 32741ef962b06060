"""schemathesis against every service's OpenAPI document (in-process), every check on.

Every check schemathesis has (server errors, status codes, content types, headers,
schemas, positive data accepted, negative data rejected, missing required headers,
unsupported methods, use after free, resource availability, ignored auth), with positive
and negative data, and the stateful phase along the documents' links (create -> read ->
update). What is accepted despite a check is in ``known_failures.py``, with its reason.

Smoke (``make test``): a few derandomised examples per operation and a short stateful
run. Long run (``make fuzz``): the nightly hypothesis profile with schemathesis' coverage
phase (its boundary and missing-header cases) and longer stateful runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from contractkit import (
    BASE_URL,
    HEADERS,
    SMOKE,
    fresh_idempotency_key,
    identity_app,
    load_schema,
    nightly_active,
    procurement_app,
    registry_app,
)
from hypothesis import settings
from known_failures import excluded

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
STATEFUL_SMOKE = settings(settings.get_profile(SMOKE), max_examples=3, stateful_step_count=6)
STATEFUL_LONG = settings(max_examples=40, stateful_step_count=12)


def _headers(case: Any, service: str) -> dict[str, str]:
    return {**HEADERS[service], **fresh_idempotency_key(case)}


def _check(case: Any, service: str) -> None:
    case.call_and_validate(
        base_url=BASE_URL,
        headers=_headers(case, service),
        excluded_checks=excluded(service, case.operation.definition.raw.get("operationId")),
    )


def stateful(schema: Any, service: str, budget: Any) -> Any:
    """The document's links as a hypothesis state machine (create, then read and update
    what was created), every check on each step."""

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": BASE_URL, "headers": _headers(case, service)}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            operation_id = case.operation.definition.raw.get("operationId")
            case.validate_response(
                response,
                excluded_checks=excluded(service, operation_id),
                headers=HEADERS[service],
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Machine.TestCase.settings = budget
    return Machine


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


@smoke
@pytest.mark.parametrize("service", ["registry", "procurement", "identity"])
def test_stateful_smoke(service: str, contract_databases: dict[str, str]) -> None:
    schema = {"registry": registry, "procurement": procurement, "identity": identity}[service]
    chosen = STATEFUL_LONG if nightly_active() else STATEFUL_SMOKE
    stateful(schema, service, chosen).run(settings=chosen)


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
