"""The machine clients' authentication at identity, as the deployments wire it.

Identity accepts client secrets only in development, so docker-compose and the k8s
manifests must give procurement a private JWK (PROCUREMENT_CLIENT_PRIVATE_KEY_JWK), never a
PROCUREMENT_CLIENT_SECRET, and register its public key at identity with private_key_jwt
(`python -m identity register-client`). The same for every resource server that reads
identity's revocation feed: procurement, the registry (REGISTRY_AUTH_CLIENT_PRIVATE_KEY_JWK)
and the gateway (GATEWAY_AUTH_CLIENT_PRIVATE_KEY_JWK). Checked as data, and then for real:
the keys and registrations that deploy/compose/make-env.sh and deploy/k8s/create-secrets.sh
generate get procurement an access token, and each of the three the revocation feed, from
an identity app configured as in compose."""

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
from servicekit.revocations import feed_from_settings
from servicekit.testing import migrated_database

MAKE_ENV = ROOT / "deploy" / "compose" / "make-env.sh"
CREATE_SECRETS = ROOT / "deploy" / "k8s" / "create-secrets.sh"
SECRET_KEYS = {
    "PROCUREMENT_CLIENT_SECRET",
    "PROCUREMENT_AUTH_CLIENT_SECRET",
    "REGISTRY_AUTH_CLIENT_SECRET",
    "GATEWAY_AUTH_CLIENT_SECRET",
}
JWK_KEY = "PROCUREMENT_CLIENT_PRIVATE_KEY_JWK"
# Resource servers (they read the revocation feed): part -> (compose service and k8s
# Deployment, its private JWK setting, compose's registration one-shot, k8s Secret).
RESOURCE_SERVERS = {
    "procurement": ("procurement", JWK_KEY, "identity-clients", "procurement-client"),
    "registry": (
        "registry", "REGISTRY_AUTH_CLIENT_PRIVATE_KEY_JWK", "registry-client", "registry-client"
    ),
    "gateway": (
        "gateway", "GATEWAY_AUTH_CLIENT_PRIVATE_KEY_JWK", "gateway-client", "gateway-client"
    ),
}  # fmt: skip


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


@pytest.mark.parametrize("part", sorted(RESOURCE_SERVERS))
def test_compose_registers_every_resource_server_before_it_starts(
    compose: dict[str, Any], part: str
) -> None:
    service, jwk_key, one_shot, _secret = RESOURCE_SERVERS[part]
    services = compose["services"]
    env = services[service]["environment"]
    assert not SECRET_KEYS & set(env), f"{service}: identity refuses client secrets here"
    variable = f"SAMEN_{part.upper()}_CLIENT_PRIVATE_KEY_JWK"
    assert str(env[jwk_key]).startswith("${" + variable + ":?"), (service, env.get(jwk_key))
    registration = f"SAMEN_{part.upper()}_CLIENT_REGISTRATION"
    assert "${" + registration + ":?" in services[one_shot]["command"][-1]
    assert services[one_shot]["command"][:4] == ["python", "-m", "identity", "register-client"]
    assert services[one_shot]["depends_on"]["identity-migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services[service]["depends_on"][one_shot]["condition"] == (
        "service_completed_successfully"
    )


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


def test_k8s_gives_every_resource_server_its_private_jwk(rendered: dict[str, Any]) -> None:
    for overlay, objs in rendered.items():
        deployments = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
        for deployment, jwk_key, _one_shot, secret in RESOURCE_SERVERS.values():
            (container,) = [
                c
                for c in deployments[deployment]["spec"]["template"]["spec"]["containers"]
                if c["name"] == deployment
            ]
            env = {e["name"]: e for e in container.get("env", [])}
            assert jwk_key in env, f"{overlay}/{deployment}: no client for the revocation feed"
            assert env[jwk_key]["valueFrom"]["secretKeyRef"] == {
                "name": secret,
                "key": "private-key-jwk",
            }, f"{overlay}/{deployment}"


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


Generated = dict[str, tuple[str, str]]  # part -> (private JWK, registration)


def from_make_env() -> Generated:
    """Each resource server's private JWK and registration, as compose passes them."""
    env = read_env_file(subprocess.run([str(MAKE_ENV)], check=True, capture_output=True,
                                       text=True, timeout=300).stdout)  # fmt: skip
    from deploy_helpers import load_compose

    services = load_compose()["services"]
    out: Generated = {}
    for part, (service, jwk_key, one_shot, _secret) in RESOURCE_SERVERS.items():
        private = interpolate_with(services[service]["environment"][jwk_key], env)
        registration = interpolate_with(services[one_shot]["command"][-1], env)
        out[part] = (private, registration)
    return out


def from_create_secrets(tmp_path: Path) -> Generated:
    """The same from create-secrets.sh, run against a fake kubectl (test_secrets_script)."""
    from test_secrets_script import fake_kubectl, run, secrets

    env = fake_kubectl(tmp_path)
    done = run(env, "production")
    assert done.returncode == 0, done.stderr
    out: Generated = {}
    for part, (*_, secret) in RESOURCE_SERVERS.items():
        literals = json.loads(secrets(env)[f"samen.secret.{secret}.json"])["stringData"]
        assert set(literals) == {"private-key-jwk", "client-registration"}
        out[part] = (literals["private-key-jwk"], literals["client-registration"])
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Generated]:
    """Keys and registrations from both scripts (generated once: RSA keys take seconds)."""
    return {
        "compose": from_make_env(),
        "k8s": from_create_secrets(tmp_path_factory.mktemp("k8s")),
    }


def check_registration(private: str, registration: str) -> tuple[RSAKey, ClientIn]:
    key = RSAKey.import_key(json.loads(private))
    assert key.is_private
    client = ClientIn.model_validate_json(registration)
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert client.jwks is not None
    assert not any("d" in k for k in client.jwks["keys"]), "registration has public keys only"
    assert KeySet.import_key_set(client.jwks).get_by_kid(key.kid)  # type: ignore[arg-type]
    assert client.resource_audiences == ["samen"], "a resource server reads the feed"
    return key, client


# No collector here: tracing off (it is not what these tests are about).
QUIET = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}


def identity_as_in_compose(compose: dict[str, Any], tmp_path: Path) -> tuple[Any, str]:
    """identity's settings as compose configures them (production), on SQLite here."""
    id_env = compose_env(compose["services"]["identity"])
    id_env.update(QUIET)
    id_env["IDENTITY_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    return load_settings("identity", id_env), id_env["IDENTITY_DATABASE_URL"]


def part_as_in_compose(compose: dict[str, Any], part: str, private: str, tmp_path: Path) -> Any:
    """A resource server's settings as compose configures them, with the generated key."""
    service, jwk_key, _one_shot, _secret = RESOURCE_SERVERS[part]
    env = compose_env(compose["services"][service])
    env.update(QUIET)
    values = {f"SAMEN_{part.upper()}_CLIENT_PRIVATE_KEY_JWK": private}
    env[jwk_key] = interpolate_with(compose["services"][service]["environment"][jwk_key], values)
    if part != "gateway":
        env[f"{part.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / part}.db"
    return load_settings(service, env)


@pytest.mark.parametrize("source", ["compose", "k8s"])
@pytest.mark.parametrize("part", sorted(RESOURCE_SERVERS))
async def test_generated_key_reads_the_revocation_feed(
    source: str,
    part: str,
    generated: dict[str, Generated],
    compose: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    private, registration = generated[source][part]
    _key, client = check_registration(private, registration)
    identity_settings, url = identity_as_in_compose(compose, tmp_path)
    settings = part_as_in_compose(compose, part, private, tmp_path)
    client_id, _secret, private_key_jwk = settings.revocation_client()
    assert (client_id, private_key_jwk) == (client.client_id, private)

    database = await migrated_database("identity.migrations", url)
    try:
        await _register_client(identity_settings, argparse.Namespace(json=registration, file=None))
        assert json.loads(capsys.readouterr().out)["action"] == "created"
        identity = create_identity(identity_settings, database=database)  # type: ignore[arg-type]
        await identity.state.identity.keys.ensure()
        # The feed as the part builds it from its settings; its requests reach the identity
        # app (as compose's network would). Identity refuses client secrets here, so a
        # successful poll is the private_key_jwt client at work.
        feed = feed_from_settings(settings, transport=httpx.ASGITransport(app=identity))
        assert feed is not None, f"{part} does not read the revocation feed"
        try:
            assert await feed.poll(), feed.last_error
            assert feed.details()["status"] == "pass"
        finally:
            await feed.aclose()
    finally:
        await database.dispose()


@pytest.mark.parametrize("source", ["compose", "k8s"])
async def test_generated_key_gets_procurement_a_token(
    source: str,
    generated: dict[str, Generated],
    compose: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    private, registration = generated[source]["procurement"]
    _key, client = check_registration(private, registration)
    identity_settings, url = identity_as_in_compose(compose, tmp_path)
    procurement_settings = part_as_in_compose(compose, "procurement", private, tmp_path)
    assert client.client_id == procurement_settings.client_id  # type: ignore[attr-defined]
    wanted = set(procurement_settings.registry_scope.split())  # type: ignore[attr-defined]
    assert wanted <= set(client.allowed_scopes)  # type: ignore[attr-defined]

    database = await migrated_database("identity.migrations", url)
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
        assert set(claims["scope"].split()) == wanted
        await registry.aclose()
    finally:
        await database.dispose()


# ---- pushed revocations ----------------------------------------------------------------

PUSH_PARTS = {"identity": "IDENTITY", "registry": "REGISTRY", "procurement": "PROCUREMENT",
              "gateway": "GATEWAY"}  # fmt: skip


def test_compose_gives_identity_and_every_resource_server_redis(compose: dict[str, Any]) -> None:
    for part, prefix in PUSH_PARTS.items():
        env = compose_env(compose["services"][part])
        assert env[f"{prefix}_REDIS_URL"] == "redis://redis:6379/0", part


def test_production_gives_identity_and_every_resource_server_redis(
    rendered: dict[str, Any],
) -> None:
    objs = rendered["production"]
    deployments = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
    for part, prefix in PUSH_PARTS.items():
        (container,) = [
            c
            for c in deployments[part]["spec"]["template"]["spec"]["containers"]
            if c["name"] == part
        ]
        env = {e["name"]: e for e in container.get("env", [])}
        assert env[f"{prefix}_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "gateway-redis",
            "key": "url",
        }, part
    (policy,) = [
        o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "redis"
    ]
    admitted = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
    }
    assert admitted == set(PUSH_PARTS)
