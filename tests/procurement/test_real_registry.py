"""Against the real registry process (migrated and seeded SQLite database): the tender's
facility and lead party, and the proposed start date, come from the registry over HTTP;
with the registry process stopped, explicit dates still work and the rest is 503."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from procurement.config import Settings
from procurement.db import metadata
from procurement.main import create_app
from servicekit.db import Database
from servicekit.testing import TestIssuer, clear_tables

from .conftest import amsterdam_today

# Fictional demo identifiers of `python -m registry seed` (demo_organisations.json).
VNG_OIN = "00000001009876543000"
UTRECHT_OIN = "00000001001234567000"
FACILITY_SLUG = "gemeentelijke-telecommunicatie"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registry_available() -> str | None:
    try:
        import registry.seed.commands  # noqa: F401
    except ImportError as exc:
        return f"the registry package is not importable: {exc}"
    return None


class FakeIdentity:
    """JWKS for the registry to verify tokens; client_credentials for procurement."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.port = free_port()
        identity = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path == "/auth/jwks":
                    body: dict[str, Any] = identity.issuer.jwks()
                elif self.path == "/auth/token" and self.command == "POST":
                    assert self.headers["authorization"].startswith("Basic ")
                    token = identity.issuer.token(
                        # As identity's seed allows samen-procurement: contract ends
                        # (proposed start dates) need registry:contracts.
                        sub="procurement",
                        azp="procurement",
                        scopes=["registry:read", "registry:contracts"],
                    )
                    body = {"access_token": token, "token_type": "Bearer", "expires_in": 300}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _reply
            do_POST = _reply

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def real_registry(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
) -> Iterator[tuple[str, subprocess.Popen[bytes], FakeIdentity]]:
    reason = registry_available()
    if reason:
        pytest.skip(reason)
    identity = FakeIdentity(issuer)
    db = tmp_path_factory.mktemp("real-registry") / "registry.db"
    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_ENVIRONMENT": "test",
        "REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "REGISTRY_AUTH_JWKS_URL": f"{identity.url}/auth/jwks",
        "REGISTRY_AUTH_ISSUER": issuer.issuer,
        "REGISTRY_WEBHOOKS_ENABLED": "false",
        "REGISTRY_LOG_LEVEL": "WARNING",
        "OTEL_SDK_DISABLED": "true",
    }
    python = sys.executable
    for step in (["migrate"], ["seed"]):
        done = subprocess.run(
            [python, "-m", "registry", *step], env=env, capture_output=True, timeout=120
        )
        if done.returncode != 0:
            identity.server.shutdown()
            pytest.skip(f"`python -m registry {step[0]}` failed: {done.stderr[-300:]!r}")
    process = subprocess.Popen(
        [python, "-m", "registry", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        identity.server.shutdown()
        pytest.skip("the registry process did not start within 60 s")
    yield url, process, identity
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=15)
    identity.server.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="runs once, in the SQLite pass: the registry process has its own SQLite file "
    "either way, and starting it (migrate, seed, serve) takes most of a minute",
)
async def test_enrollment_against_the_real_registry_then_its_outage(
    real_registry: tuple[str, subprocess.Popen[bytes], FakeIdentity],
    database: Database,
    issuer: TestIssuer,
) -> None:
    registry_url, process, identity = real_registry
    await clear_tables(database, metadata)
    settings = Settings(
        environment="test",
        database_url=database.url,
        registry_url=registry_url,
        token_url=f"{identity.url}/auth/token",
        registry_timeout_seconds=2.0,
        otel_sdk_disabled=True,
    )
    app = create_app(settings, database=database, token_verifier=issuer.verifier())
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://procurement.test") as client,
        httpx.AsyncClient(base_url=registry_url) as registry,
    ):
        reader = issuer.headers(scopes=["registry:read"])
        facilities = await registry.get(f"/v1/facilities?slug={FACILITY_SLUG}", headers=reader)
        assert facilities.status_code == 200, facilities.text
        facility = facilities.json()["items"][0]
        orgs = (await registry.get(f"/v1/organisations?oin={VNG_OIN}", headers=reader)).json()
        lead = orgs["items"][0]

        lead_headers = issuer.headers(
            sub="vng-staff",
            scopes=["procurement:read", "procurement:manage"],
            org_id=VNG_OIN,
            org_type="operator",
        )
        now = datetime.now(UTC)
        created = await client.post(
            "/v1/tenders",
            json={
                "facilityId": facility["id"],
                "leadPartyId": lead["id"],
                "title": "GT telefonie 2030",
                "procedure": "restricted",
                "estimatedValue": {"amount": 5000000},
                "enrollmentOpensAt": (now - timedelta(hours=1)).isoformat(),
                "enrollmentClosesAt": (now + timedelta(days=14)).isoformat(),
                "plannedStartDate": "2027-04-01",
                "contractDurationMonths": 48,
                "lots": [{"title": "Vast en mobiel", "unit": "gebruiker"}],
            },
            headers=lead_headers,
        )
        assert created.status_code == 201, created.text
        tender = created.json()
        assert tender["facility"]["name"] == facility["name"]
        tid = tender["id"]
        assert (
            await client.post(f"/v1/tenders/{tid}/publication", headers=lead_headers)
        ).status_code == 200

        utrecht = issuer.headers(
            sub="utrecht-staff",
            scopes=["procurement:read", "procurement:enroll"],
            org_id=UTRECHT_OIN,
            org_type="municipality",
        )
        body = {
            "lots": [{"lotId": tender["lots"][0]["id"], "expectedVolume": 4000}],
            "mandate": {
                "signerName": "S. Dijksma",
                "signerRole": "burgemeester",
                "signedDate": amsterdam_today().isoformat(),
                "authorisesLeadParty": True,
            },
        }
        enrolled = await client.post(f"/v1/tenders/{tid}/enrollments", json=body, headers=utrecht)
        assert enrolled.status_code == 201, enrolled.text
        line = enrolled.json()["lots"][0]
        # The seeded Utrecht contract for telephony ends on 2027-06-30.
        assert line["desiredStartDate"] == "2027-07-01"
        assert line["desiredStartBasis"] == "registry-contract-end"
        assert enrolled.json()["municipality"]["province"] == "Utrecht"

        # Stop the registry: proposing a date is impossible, an explicit date is not.
        process.terminate()
        process.wait(timeout=15)
        withdrawn = await client.post(
            f"/v1/tenders/{tid}/enrollments/{enrolled.json()['id']}/withdrawal",
            headers={**utrecht, "If-Match": enrolled.headers["etag"]},
        )
        assert withdrawn.status_code == 200
        app.state.registry.clear_cache()
        again = await client.post(f"/v1/tenders/{tid}/enrollments", json=body, headers=utrecht)
        assert again.status_code == 503
        assert again.headers["retry-after"]
        body["lots"][0]["desiredStartDate"] = "2030-09-01"
        again = await client.post(f"/v1/tenders/{tid}/enrollments", json=body, headers=utrecht)
        assert again.status_code == 201, again.text
        assert again.json()["lots"][0]["desiredStartBasis"] == "explicit"
    await app.state.registry.aclose()
