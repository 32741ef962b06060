"""procurement's client authentication at identity, as the deployments wire it.

Identity accepts client secrets only in development, so docker-compose and the k8s
manifests must give procurement a private JWK (PROCUREMENT_CLIENT_PRIVATE_KEY_JWK), never a
PROCUREMENT_CLIENT_SECRET, and register its public key at identity with private_key_jwt
(`python -m identity register-client`). Checked as data, and then for real: the key and
registration that deploy/compose/make-env.sh and deploy/k8s/create-secrets.sh generate
get procurement an access token from an identity app configured as in compose."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_helpers import ROOT, compose_env, load_settings
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from identity.__main__ import _register_client
from identity.clients.schemas import ClientIn
from identity.main import create_app as create_identity
from procurement.main import create_app as create_procurement
from servicekit.testing import migrated_database

MAKE_ENV = ROOT / "deploy" / "compose" / "make-env.sh"
CREATE_SECRETS = ROOT / "deploy" / "k8s" / "create-secrets.sh"
SECRET_KEYS = {"PROCUREMENT_CLIENT_SECRET"}
JWK_KEY = "PROCUREMENT_CLIENT_PRIVATE_KEY_JWK"


def test_compose_gives_procurement_a_private_jwk_not_a_secret(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("procurement", "procurement-migrate"):
        env = services[name]["environment"]
        assert not SECRET_KEYS & set(env), f"{name}: identity refuses client secrets here"
    assert str(services["procurement"]["environment"][JWK_KEY]).startswith(
        "${SAMEN_PROCUREMENT_CLIENT_PRIVATE_KEY_JWK:?"
    )
    # identity-clients registers the public key before procurement starts.
    clients = services["identity-clients"]
    assert "${SAMEN_PROCUREMENT_CLIENT_REGISTRATION:?" in clients["command"][-1]
    assert clients["depends_on"]["identity-migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["procurement"]["depends_on"]["identity-clients"]["condition"] == (
        "service_completed_successfully"
    )
    assert compose_env(services["identity"])["IDENTITY_ALLOW_CLIENT_SECRET_BASIC"] == "false"


def test_k8s_gives_procurement_a_private_jwk_not_a_secret(rendered: dict[str, Any]) -> None:
    for overlay, objs in rendered.items():
        for obj in objs:
            if obj["kind"] == "ConfigMap":
                assert not SECRET_KEYS & set(obj.get("data", {})), overlay
                assert JWK_KEY not in obj.get("data", {}), f"{overlay}: the key is a Secret"
            if obj["kind"] not in ("Deployment", "Job"):
                continue
            for c in obj["spec"]["template"]["spec"]["containers"]:
                names = {e["name"] for e in c.get("env", [])}
                assert not SECRET_KEYS & names, f"{overlay}/{obj['metadata']['name']}"
        (dep,) = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == (
            "procurement"
        )]  # fmt: skip
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env[JWK_KEY]["valueFrom"]["secretKeyRef"] == {
            "name": "procurement-client",
            "key": "private-key-jwk",
        }, overlay


# ---- the generated keys work ------------------------------------------------------------


def read_env_file(text: str) -> dict[str, str]:
    """A compose .env: KEY=value or KEY='literal value'."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[key] = value
    return values


def interpolate_with(value: str, env: dict[str, str]) -> str:
    """Compose interpolation with real values (the test's .env)."""
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}", lambda m: env[m.group(1)], value
    )


def from_make_env() -> tuple[str, str]:
    """(procurement's private JWK, the identity-clients registration) as compose passes them."""
    env = read_env_file(subprocess.run([str(MAKE_ENV)], check=True, capture_output=True,
                                       text=True, timeout=120).stdout)  # fmt: skip
    from deploy_helpers import load_compose

    services = load_compose()["services"]
    private = interpolate_with(services["procurement"]["environment"][JWK_KEY], env)
    registration = interpolate_with(services["identity-clients"]["command"][-1], env)
    return private, registration


def from_create_secrets(tmp_path: Path) -> tuple[str, str]:
    """The same two from create-secrets.sh, run against a fake kubectl (test_secrets_script)."""
    from test_secrets_script import fake_kubectl, run, secrets

    env = fake_kubectl(tmp_path)
    done = run(env, "production")
    assert done.returncode == 0, done.stderr
    literals = json.loads(secrets(env)["samen.secret.procurement-client.json"])["stringData"]
    assert set(literals) == {"private-key-jwk", "client-registration"}
    return literals["private-key-jwk"], literals["client-registration"]


@pytest.mark.parametrize("source", ["compose", "k8s"])
async def test_generated_key_gets_procurement_a_token(
    source: str, compose: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, registration = (
        from_make_env() if source == "compose" else from_create_secrets(tmp_path)
    )
    key = RSAKey.import_key(json.loads(private))
    assert key.is_private
    client = ClientIn.model_validate_json(registration)
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert client.jwks is not None
    assert not any("d" in k for k in client.jwks["keys"]), "registration has public keys only"
    assert KeySet.import_key_set(client.jwks).get_by_kid(key.kid)  # type: ignore[arg-type]

    # identity and procurement configured as in compose (production), on SQLite here.
    values = {"SAMEN_PROCUREMENT_CLIENT_PRIVATE_KEY_JWK": private}
    services = compose["services"]
    id_env = compose_env(services["identity"])
    # No collector here: tracing off (it is not what this test is about).
    quiet = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    id_env.update(quiet)
    id_env["IDENTITY_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    identity_settings = load_settings("identity", id_env)
    pr_env = compose_env(services["procurement"])
    pr_env.update(quiet)
    pr_env[JWK_KEY] = interpolate_with(services["procurement"]["environment"][JWK_KEY], values)
    pr_env["PROCUREMENT_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'procurement.db'}"
    procurement_settings = load_settings("procurement", pr_env)
    assert client.client_id == procurement_settings.client_id  # type: ignore[attr-defined]
    assert procurement_settings.registry_scope in client.allowed_scopes  # type: ignore[attr-defined]

    database = await migrated_database("identity.migrations", id_env["IDENTITY_DATABASE_URL"])
    try:
        await _register_client(identity_settings, argparse.Namespace(json=registration, file=None))
        assert json.loads(capsys.readouterr().out)["action"] == "created"
        identity = create_identity(identity_settings, database=database)  # type: ignore[arg-type]
        await identity.state.identity.keys.ensure()
        procurement = create_procurement(procurement_settings)  # type: ignore[arg-type]
        registry = procurement.state.registry
        await registry.http.aclose()
        # procurement's token requests reach the identity app (as compose's network would).
        registry.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity))
        token = await registry._access_token()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=identity), base_url="http://identity:8001"
        ) as http:
            published = (await http.get("/auth/jwks")).json()
        claims = jwt.decode(token, KeySet.import_key_set(published)).claims
        assert claims["azp"] == client.client_id
        assert claims["scope"] == procurement_settings.registry_scope  # type: ignore[attr-defined]
        await registry.aclose()
    finally:
        await database.dispose()
