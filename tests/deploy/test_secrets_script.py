"""deploy/k8s/create-secrets.sh is create-only: run twice against a fake kubectl (on PATH),
the second run creates nothing and replaces nothing; a missing Secret is filled in beside
the kept ones; a half-created database password is refused, never papered over with a new
one. (One cluster state per overlay: a first run costs seconds of key generation.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "k8s" / "create-secrets.sh"
FAKE = Path(__file__).with_name("fake_kubectl.py")
MUTATING = ("apply", "replace", "patch", "delete", "edit", "set")
# The scheme of each overlay's URL settings: TLS on the production Ingress, none in dev.
SCHEME = {"production": "https", "dev": "http"}


def public_url(overlay: str) -> str:
    """The overlay's public URL, from its one place for the host (public-host.yaml)."""
    host_file = ROOT / "deploy" / "k8s" / "overlays" / overlay / "public-host.yaml"
    return f"{SCHEME[overlay]}://{yaml.safe_load(host_file.read_text())['data']['host']}"


def fake_kubectl(tmp_path: Path) -> dict[str, str]:
    """The environment for a run: `kubectl` on PATH is the fake, keeping state in tmp_path."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    # -S: no site packages (a faster start; the fake needs only the standard library).
    kubectl.write_text(f'#!/bin/sh\nexec {sys.executable} -S {FAKE} "$@"\n')
    kubectl.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_KUBE_STATE": str(state),
    }


def run(env: dict[str, str], overlay: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), overlay], env=env, capture_output=True, text=True, timeout=120
    )


def secrets(env: dict[str, str]) -> dict[str, str]:
    state = Path(env["FAKE_KUBE_STATE"])
    return {p.name: p.read_text() for p in sorted(state.glob("*.secret.*.json"))}


def calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["FAKE_KUBE_STATE"]) / "calls.log"
    return [line.split() for line in log.read_text().splitlines()]


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        (
            "production",
            {
                "registry-database", "identity-database", "procurement-database",
                "portal-database",
                "samen-pg-registry", "samen-pg-identity", "samen-pg-procurement",
                "samen-pg-portal",
                "redis-credentials", "gateway-redis", "identity-keys", "registry-keys",
                "procurement-client", "registry-client", "gateway-client", "portal-client",
                "portal-reader-client",
            },
        ),
        (
            "dev",
            {
                "registry-database", "identity-database", "procurement-database",
                "portal-database",
                "postgres-credentials", "identity-keys", "registry-keys", "procurement-client",
                "registry-client", "gateway-client", "portal-client", "portal-reader-client",
            },
        ),
    ],
)  # fmt: skip
def test_second_run_replaces_nothing(tmp_path: Path, overlay: str, expected: set[str]) -> None:
    env = fake_kubectl(tmp_path)
    first = run(env, overlay)
    assert first.returncode == 0, first.stderr
    created = secrets(env)
    ns = "samen" if overlay == "production" else "samen-dev"
    assert {
        name.removeprefix(f"{ns}.secret.").removesuffix(".json") for name in created
    } == expected
    # The database URL and the role's password agree (production: CloudNativePG's Secret).
    if overlay == "production":
        url = json.loads(created[f"{ns}.secret.registry-database.json"])["stringData"]["url"]
        role = json.loads(created[f"{ns}.secret.samen-pg-registry.json"])["stringData"]
        assert f"registry:{role['password']}@samen-pg-pooler-rw:5432/registry" in url
    # The portal's log-in client is registered with the redirect URI the portal sends.
    registration = json.loads(
        json.loads(created[f"{ns}.secret.portal-client.json"])["stringData"]["client-registration"]
    )
    assert registration["redirectUris"] == [f"{public_url(overlay)}/login/callback"]
    second = run(env, overlay)
    assert second.returncode == 0, second.stderr
    assert secrets(env) == created, "a second run changed a Secret"
    assert "created secret/" not in second.stdout
    assert second.stdout.count("kept    secret/") == len(expected)
    for argv in calls(env):
        verbs = [a for a in argv if not a.startswith("-")]
        assert not set(verbs[:1]) & set(MUTATING), f"mutating kubectl call: {argv}"
    if overlay == "production":
        missing_ones_are_filled_in_and_existing_ones_kept(env)
        half_a_database_password_is_refused(env)


def missing_ones_are_filled_in_and_existing_ones_kept(env: dict[str, str]) -> None:
    before = secrets(env)
    state = Path(env["FAKE_KUBE_STATE"])
    (state / "samen.secret.registry-keys.json").unlink()
    again = run(env, "production")
    assert again.returncode == 0, again.stderr
    assert "created secret/registry-keys" in again.stdout
    after = secrets(env)
    assert {k: v for k, v in after.items() if "registry-keys" not in k} == {
        k: v for k, v in before.items() if "registry-keys" not in k
    }


def half_a_database_password_is_refused(env: dict[str, str]) -> None:
    state = Path(env["FAKE_KUBE_STATE"])
    (state / "samen.secret.samen-pg-identity.json").unlink()
    before = secrets(env)
    refused = run(env, "production")
    assert refused.returncode == 3
    assert "samen-pg-identity" in refused.stderr
    assert secrets(env) == before


@pytest.mark.parametrize("overlay", ["production", "dev"])
def test_portal_public_url_is_the_registered_one(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """The portal builds its redirect_uri from PORTAL_PUBLIC_URL: the rendered overlay's
    value is the URL create-secrets.sh registers (from public-host.yaml and the scheme)."""
    (config,) = [
        o
        for o in rendered[overlay]
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("portal-config")
    ]
    assert config["data"]["PORTAL_PUBLIC_URL"] == public_url(overlay)
