"""Helpers for the static deploy tests: the compose file, rendered kustomize overlays and
the services' settings classes (imported, so the checks grow with the settings).

Imported by the test modules as ``deploy_helpers`` (conftest.py puts this folder on
sys.path: with --import-mode=importlib test folders are not packages)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())

# service -> (settings module, package dir, port, has migrations)
SERVICES: dict[str, tuple[str, str, int, bool]] = {
    "gateway": ("gateway.config", "gateway", 8000, False),
    "identity": ("identity.config", "services/identity", 8001, True),
    "registry": ("registry.config", "services/registry", 8002, True),
    "procurement": ("procurement.config", "services/procurement", 8003, True),
    "portal": ("portal.config", "portal", 8004, True),
}
PUBLIC_SERVICE = "gateway"


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(SERVICES[service][0])
    cls: type[BaseSettings] = module.Settings
    return cls


def env_keys(cls: type[BaseSettings]) -> dict[str, str]:
    """Environment variable (upper case) -> field name, as pydantic-settings reads them."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    keys: dict[str, str] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names = [c for c in alias.choices if isinstance(c, str)]
        elif isinstance(alias, str):
            names = [alias]
        elif isinstance(alias, AliasPath):
            names = [str(alias.path[0])]
        else:
            names = [f"{prefix}{name}"]
        for env_name in names:
            keys[env_name.upper()] = name
    return keys


# Settings that exist for development only: they must never be switched on in a
# production-like deployment. Matched on field names, so new ones are caught too.
DEV_ONLY_FIELD = re.compile(r"(^|_)(allow|dev|debug|insecure|simulators?|fake|demo)(_|$)")


def load_settings(service: str, env: dict[str, str]) -> BaseSettings:
    """The service's settings as a container with exactly `env` would load them."""
    cls = settings_class(service)
    with mock.patch.dict(os.environ, env, clear=True):
        settings = cls()
    return settings


def check_production_ready(service: str, env: dict[str, str]) -> None:
    """Fail when `env` would run `service` outside production or with a dev convenience."""
    settings = load_settings(service, env)
    assert getattr(settings, "environment", None) == "production", (
        f"{service}: ENVIRONMENT must be production"
    )
    enabled = [
        name
        for name, value in settings.model_dump().items()
        if DEV_ONLY_FIELD.search(name) and value is True
    ]
    assert not enabled, f"{service}: development-only settings enabled: {enabled}"
    # A service's own production guard (e.g. identity refuses its dev keys), when it has one.
    check = getattr(settings, "check_production", None)
    if callable(check):
        check()


def placeholder(key: str) -> str:
    """A stand-in for a secret's value, shaped like what the key holds."""
    if key.endswith("DATABASE_URL"):
        return "postgresql+asyncpg://svc:placeholder-password@postgres:5432/svc"
    if key.endswith("REDIS_URL"):
        return "redis://:placeholder-password@redis:6379/0"
    if key.endswith("_UPSTREAMS"):
        return "{}"  # JSON: the upstream IdPs, none configured
    return "placeholder-" + key.lower().replace("_", "-") + "-0123456789abcdef"


# ---- docker-compose.yml ---------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


def interpolate(value: str) -> str:
    """Compose variable interpolation, with a fixed stand-in for every required variable."""

    def sub(m: re.Match[str]) -> str:
        if m.group("op") in (":-", "-"):
            return m.group("arg")
        return "compose-placeholder-0123456789abcdef"

    return _INTERPOLATION.sub(sub, value)


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


# ---- kustomize -------------------------------------------------------------------------


def render_overlays(kubectl: str) -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered with `kubectl kustomize` (objects as dicts)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for overlay in OVERLAYS:
        text = subprocess.run(
            [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        out[overlay] = [d for d in yaml.safe_load_all(text) if d]
    return out


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        spec: dict[str, Any] = obj["spec"]["template"]["spec"]
        return spec
    if obj["kind"] == "CronJob":
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    if obj["kind"] == "Pod":
        spec = obj["spec"]
        return spec
    return None


def labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
