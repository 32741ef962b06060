"""schemathesis through the gateway: every operation of the registry's, procurement's
and identity's OpenAPI documents with every check (the same set and the same accepted
deviations as the in-process contract tests, ``tests/contract/known_failures.py``),
positive and negative data, against the running platform at the public paths, with a
real access token from identity (client_credentials of the development seed's
platform-administration client: registry read/write, procurement read, identity admin).
A few derandomised examples per operation.

Runs after the story (file order): the BSN scan there covers the story's logs, and what
this file writes does not disturb the story."""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from e2ekit import Platform, basic_auth
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "contract"))

from contractkit import fresh_idempotency_key
from known_failures import configure, excluded

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
SCOPES = "registry:read registry:write registry:exposure procurement:read identity:admin"


def _document(app_factory: Any) -> Any:
    # The documents come from the services' own code (the platform is not up yet at
    # collection); the gateway serves the same ones at /api/<service>/v1/openapi.json.
    schema = schemathesis.openapi.from_dict(app_factory().openapi())
    schema.config.phases.coverage.enabled = False
    configure(schema)
    return schema


def _registry_app() -> Any:
    from registry.main import create_app

    return create_app()


def _procurement_app() -> Any:
    from procurement.main import create_app

    return create_app()


def _identity_app() -> Any:
    from identity.main import create_app

    return create_app()


registry = _document(_registry_app)
procurement = _document(_procurement_app)
identity = _document(_identity_app)
budget = settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def gateway_session(platform: Platform) -> Any:
    r = httpx.post(
        f"{platform.url}/auth/token",
        data={"grant_type": "client_credentials", "scope": SCOPES},
        headers={"Authorization": basic_auth("samen-admin", "samen-admin-dev-secret")},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    yield session
    session.close()


@pytest.fixture(scope="module")
def served_documents(platform: Platform) -> dict[str, dict[str, Any]]:
    """The gateway serves each service's document, with itself as the first server."""
    docs = {}
    for service in ("registry", "procurement", "identity"):
        r = httpx.get(f"{platform.url}/api/{service}/v1/openapi.json", timeout=30)
        assert r.status_code == 200, r.text
        docs[service] = r.json()
    return docs


def _call(case: Any, platform: Platform, session: Any, service: str) -> None:
    case.call_and_validate(
        base_url=f"{platform.url}/api/{service}/v1",
        session=session,
        headers=fresh_idempotency_key(case),
        excluded_checks=excluded(service, case.operation.definition.raw.get("operationId")),
    )


def test_the_gateway_serves_the_same_documents(
    served_documents: dict[str, dict[str, Any]],
) -> None:
    assert set(served_documents["registry"]["paths"]) == set(registry.raw_schema["paths"])
    assert set(served_documents["procurement"]["paths"]) == set(procurement.raw_schema["paths"])
    assert set(served_documents["identity"]["paths"]) == set(identity.raw_schema["paths"])


@registry.parametrize()
@budget
def test_registry_through_the_gateway(case: Any, platform: Platform, gateway_session: Any) -> None:
    _call(case, platform, gateway_session, "registry")


@procurement.parametrize()
@budget
def test_procurement_through_the_gateway(
    case: Any, platform: Platform, gateway_session: Any
) -> None:
    _call(case, platform, gateway_session, "procurement")


@identity.parametrize()
@budget
def test_identity_through_the_gateway(case: Any, platform: Platform, gateway_session: Any) -> None:
    _call(case, platform, gateway_session, "identity")
