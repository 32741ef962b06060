"""The service apps under contract test, built when the test module is imported.

schemathesis parametrises tests at collection time, and its lazy ``from_fixture`` loader
does not work with pytest 9 (it writes ``request.node._nodeid``), so the apps and their
OpenAPI documents exist at import. Their databases are only named here; the session
fixture ``contract_databases`` (conftest) creates and migrates them before any request.
schemathesis runs every ASGI app on one shared event-loop thread, so the apps' engines
are only ever used on that loop.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url

from servicekit.idempotency import MAX_KEY_LENGTH
from servicekit.testing import TestIssuer, test_database_base_url

# Hypothesis profiles: the quick default run and the long `make fuzz` run.
SMOKE = "samen-contract"
NIGHTLY = "nightly"
settings.register_profile(
    SMOKE,
    max_examples=5,
    derandomize=True,  # fixed seed: the same cases every run
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    NIGHTLY,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def nightly_active() -> bool:
    return bool(settings._current_profile == NIGHTLY)


PARTS = ("registry", "procurement", "identity")
OPERATOR_OIN = "00000001003214345000"
LEAD_OIN = "00000001001234567000"
MUNICIPALITY_OIN = "00000001000000344000"
SCOPES = (
    "registry:read",
    "registry:write",
    "registry:exposure",
    "registry:contracts",
    "procurement:read",
    "procurement:enroll",
    "procurement:manage",
    "identity:admin",
)
ISSUER = TestIssuer()


def _database_urls() -> dict[str, str]:
    base = test_database_base_url()
    if not base:
        folder = Path(tempfile.mkdtemp(prefix="samen-contract-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        return {part: f"sqlite+aiosqlite:///{folder / part}.db" for part in PARTS}
    url = make_url(base).set(drivername="postgresql+asyncpg")
    suffix = uuid.uuid4().hex[:10]
    return {
        part: url.set(database=f"t_contract_{part}_{suffix}").render_as_string(hide_password=False)
        for part in PARTS
    }


DATABASE_URLS = _database_urls()


def headers(**claims: Any) -> dict[str, str]:
    """A long-lived token with every API scope (the long run takes a while)."""
    base: dict[str, Any] = {
        "sub": "contract-tester",
        "scopes": SCOPES,
        "org_id": OPERATOR_OIN,
        "org_type": "operator",
        "roles": ["platform-admin"],
        "lifetime": 4 * 3600,
    }
    base.update(claims)
    return ISSUER.headers(**base)


# Per service, the caller that may do the most there: the platform operator for registry
# and identity, the lead party's staff (at substantial) for procurement.
HEADERS = {
    "registry": headers(),
    "identity": headers(),
    "procurement": headers(org_id=LEAD_OIN, org_type="cooperation", roles=["procurement-manager"]),
}

# ------------------------------------------------------------------ fake registry

FACILITY_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "samen-contract/facility"))
LEAD_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "samen-contract/lead"))
MUNICIPALITY_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "samen-contract/municipality"))


def fake_registry(request: httpx.Request) -> httpx.Response:
    """The registry contract procurement relies on (COMMON.md), answered from constants."""
    facility = {"id": FACILITY_ID, "slug": "gt", "name": "Telefonie", "kind": "agreement",
                "stage": "operational"}  # fmt: skip
    lead: dict[str, Any] = {"id": LEAD_ID, "type": "cooperation", "name": "VNG", "oin": LEAD_OIN,
                            "cbsCode": None, "kvkNumber": None, "province": None, "memberIds": []}  # fmt: skip
    municipality = {**lead, "id": MUNICIPALITY_ID, "type": "municipality", "name": "Utrecht",
                    "oin": MUNICIPALITY_OIN, "cbsCode": "GM0344", "province": "Utrecht"}  # fmt: skip

    def page(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"items": items, "total": len(items), "page": 1, "pageSize": 100, "_links": {}}

    path = request.url.path
    if path.endswith("/auth/token"):
        return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
    found = {
        f"/v1/facilities/{FACILITY_ID}": facility,
        f"/v1/organisations/{LEAD_ID}": lead,
        f"/v1/organisations/{MUNICIPALITY_ID}": municipality,
    }.get(path)
    if found is not None:
        return httpx.Response(200, json=found)
    if path == "/v1/organisations":
        oin = request.url.params.get("oin")
        return httpx.Response(200, json=page([o for o in (lead, municipality) if o["oin"] == oin]))
    if path == "/v1/usages" or path == f"/v1/organisations/{MUNICIPALITY_ID}/radar":
        return httpx.Response(200, json=page([]))
    return httpx.Response(404, json={"status": 404})


class LastingClient(httpx.AsyncClient):
    """The fake registry's client outlives the app: schemathesis starts and stops the app
    (its lifespan closes the registry client) around every call."""

    async def aclose(self) -> None:
        return None


# ------------------------------------------------------------------ the apps


def registry_app() -> Any:
    from registry.config import Settings
    from registry.main import create_app

    settings = Settings(
        environment="test", database_url=DATABASE_URLS["registry"], otel_sdk_disabled=True,
        log_json=False,
    )  # fmt: skip
    return create_app(settings, token_verifier=ISSUER.verifier())


def procurement_app() -> Any:
    from procurement.config import Settings
    from procurement.main import create_app

    settings = Settings(
        environment="test", database_url=DATABASE_URLS["procurement"], otel_sdk_disabled=True,
        registry_url="http://registry.contract", token_url="http://identity.contract/auth/token",
        log_json=False,
    )  # fmt: skip
    app = create_app(settings, token_verifier=ISSUER.verifier())
    app.state.registry.http = LastingClient(
        base_url="http://registry.contract", transport=httpx.MockTransport(fake_registry)
    )
    return app


def identity_app() -> Any:
    from identity.config import Settings
    from identity.main import create_app

    settings = Settings(
        environment="test", database_url=DATABASE_URLS["identity"], otel_sdk_disabled=True,
        issuer="http://127.0.0.1:8000", log_json=False, client_cache_seconds=0.0,
        admin_org_ids=[OPERATOR_OIN],  # the caller of HEADERS["identity"] is a platform admin
    )  # fmt: skip
    return create_app(settings, token_verifier=ISSUER.verifier())


def load_schema(app: Any, *, coverage: bool = True) -> Any:
    """The app's own OpenAPI document (no request: the database may not exist yet), with
    requests going to the service's own ``/v1`` server. ``coverage=False`` leaves out
    schemathesis' coverage phase (hundreds of boundary cases per operation) for the
    quick run; the long run keeps every phase."""
    from known_failures import configure

    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    schema.location = "/v1/openapi.json"
    schema.config.phases.coverage.enabled = coverage
    configure(schema)
    return schema


BASE_URL = "http://localhost/v1"


def fresh_idempotency_key(case: Any) -> dict[str, str]:
    """A valid Idempotency-Key of its own for the request, as a client uses one: generated
    keys repeat across examples with other bodies, which is the documented 422, not a
    defect. A key generated to be invalid (empty, too long) is kept, to be refused."""
    key = (case.headers or {}).get("Idempotency-Key")
    if key is None or not 1 <= len(key) <= MAX_KEY_LENGTH:
        return {}
    return {"Idempotency-Key": str(uuid.uuid4())}
