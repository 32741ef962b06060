"""docker-compose.yml: structure, exposure, env keys against the settings classes, builds.

No Docker engine runs here, so the file is checked as data; deploy/check.sh also runs
`docker compose config` where a compose binary exists."""

from __future__ import annotations

from typing import Any

import pytest
from deploy_helpers import (
    PUBLIC_SERVICE,
    ROOT,
    SERVICES,
    check_production_ready,
    compose_env,
    env_keys,
    settings_class,
)

UNPREFIXED_OK = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"}


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Compose services that run one of our images: name -> (our service, definition)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


# One-shots besides the migrations: name -> (our service, the command's first words).
REGISTER = ["python", "-m", "identity", "register-client"]
ONE_SHOTS = {
    "identity-clients": ("identity", REGISTER),
    "registry-client": ("identity", REGISTER),
    "gateway-client": ("identity", REGISTER),
    "portal-client": ("identity", REGISTER),
    "portal-reader-client": ("identity", REGISTER),
}


def our_service(name: str) -> str:
    return ONE_SHOTS[name][0] if name in ONE_SHOTS else name.removesuffix("-migrate")


def test_top_level_structure(compose: dict[str, Any]) -> None:
    assert set(compose) <= {"name", "services", "networks", "volumes", "secrets", "configs"} | {
        k for k in compose if k.startswith("x-")
    }
    expected = {"postgres", "redis", "otel-collector", "jaeger"}
    for service, (_mod, _dir, _port, migrates) in SERVICES.items():
        expected.add(service)
        if migrates:
            expected.add(f"{service}-migrate")
    expected |= set(ONE_SHOTS)
    assert set(compose["services"]) == expected


def test_only_the_gateway_and_jaeger_ui_publish_ports(compose: dict[str, Any]) -> None:
    published = {
        name: svc["ports"] for name, svc in compose["services"].items() if svc.get("ports")
    }
    assert set(published) == {PUBLIC_SERVICE, "jaeger"}
    assert published[PUBLIC_SERVICE] == ["127.0.0.1:8000:8000"]
    assert published["jaeger"] == ["127.0.0.1:16686:16686"]
    for svc in compose["services"].values():
        assert "expose" not in svc or not svc["expose"]
        assert svc.get("network_mode") != "host"


def test_backend_network_is_internal(compose: dict[str, Any]) -> None:
    assert compose["networks"]["backend"]["internal"] is True
    for name, svc in compose["services"].items():
        nets = svc.get("networks") or []
        assert "backend" in nets, name
        if "edge" in nets:
            assert name in {PUBLIC_SERVICE, "jaeger"}, f"{name} must not be on the edge network"


def test_builds_point_at_real_dockerfiles(compose: dict[str, Any]) -> None:
    for name, svc in app_services(compose).items():
        service = our_service(name)
        build = svc["build"]
        assert build["context"] == ".", f"{name}: build from the repository root"
        dockerfile = ROOT / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        assert build["dockerfile"] == f"{SERVICES[service][1]}/Dockerfile"
        assert svc["image"] == f"samen/{service}:local"


def test_commands_serve_and_migrate(compose: dict[str, Any]) -> None:
    for name, svc in app_services(compose).items():
        service = our_service(name)
        port = SERVICES[service][2]
        if name.endswith("-migrate"):
            assert svc["command"] == ["python", "-m", service, "migrate"]
            assert svc["restart"] == "no"
        elif name in ONE_SHOTS:
            first = ONE_SHOTS[name][1]
            assert svc["command"][: len(first)] == first
            assert svc["restart"] == "no"
        else:
            assert svc["command"] == [
                *("python", "-m", service, "serve"),
                *("--host", "0.0.0.0", "--port", str(port)),  # noqa: S104 (inside the container)
            ]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_env_keys_exist_in_the_settings_class(compose: dict[str, Any], service: str) -> None:
    keys = env_keys(settings_class(service))
    one_shots = [n for n, (s, _c) in ONE_SHOTS.items() if s == service]
    for name in (service, f"{service}-migrate", *one_shots):
        if name not in compose["services"]:
            continue
        env = compose_env(compose["services"][name])
        unknown = sorted(set(env) - set(keys))
        assert not unknown, f"{name} sets variables its settings do not read: {unknown}"
        prefix = f"{service.upper()}_"
        for key in env:
            assert key.startswith(prefix) or key in UNPREFIXED_OK, key


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_settings_load_as_production(compose: dict[str, Any], service: str) -> None:
    env = compose_env(compose["services"][service])
    check_production_ready(service, env)
    if SERVICES[service][3]:
        check_production_ready(service, compose_env(compose["services"][f"{service}-migrate"]))
    for name, (owner, _command) in ONE_SHOTS.items():
        if owner == service:
            check_production_ready(service, compose_env(compose["services"][name]))


def test_database_services_use_asyncpg_and_their_own_database(compose: dict[str, Any]) -> None:
    for service, (_mod, _dir, _port, migrates) in SERVICES.items():
        if not migrates:
            continue
        for name in (service, f"{service}-migrate"):
            url = compose_env(compose["services"][name])[f"{service.upper()}_DATABASE_URL"]
            assert url.startswith(f"postgresql+asyncpg://{service}:"), url
            assert url.endswith(f"@postgres:5432/{service}"), url


def test_start_order_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for service, (_mod, _dir, _port, migrates) in SERVICES.items():
        svc = services[service]
        assert "healthcheck" in svc
        assert "/health/ready" in " ".join(svc["healthcheck"]["test"])
        deps = svc["depends_on"]
        if migrates:
            assert deps[f"{service}-migrate"]["condition"] == "service_completed_successfully"
            migrate = services[f"{service}-migrate"]
            assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        for dep, spec in deps.items():
            if dep in SERVICES or dep in {"postgres", "redis"}:
                assert spec["condition"] == "service_healthy", f"{service} -> {dep}"
    assert set(services[PUBLIC_SERVICE]["depends_on"]) >= set(SERVICES) - {PUBLIC_SERVICE}
    for infra in ("postgres", "redis"):
        assert "healthcheck" in services[infra]


def test_services_run_hardened(compose: dict[str, Any]) -> None:
    for name, svc in app_services(compose).items():
        assert svc["read_only"] is True, name
        assert svc["user"] == "10001:10001", name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert any(t.startswith("/tmp:") for t in svc["tmpfs"]), name


def test_no_literal_secrets(compose: dict[str, Any]) -> None:
    """Passwords and keys come from .env (deploy/compose/make-env.sh), never the file."""
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if key.endswith(("PASSWORD", "SECRET", "_KEY", "_TOKEN")):
                assert str(value).startswith("${"), f"{name}: {key} has a literal value"
            if key.endswith("DATABASE_URL"):
                assert ":${SAMEN_" in str(value), f"{name}: {key} has a literal password"


def test_postgres_init_script_is_shared_with_the_dev_overlay() -> None:
    compose_script = ROOT / "deploy" / "compose" / "postgres-init.sh"
    k8s_script = ROOT / "deploy" / "k8s" / "overlays" / "dev" / "postgres" / "init.sh"
    assert compose_script.read_text() == k8s_script.read_text()


def test_healthcheck_commands_are_valid_python(compose: dict[str, Any]) -> None:
    """The healthchecks run `python -c CODE` in the image; a syntax error would only show
    as a service that never becomes healthy."""
    checked = 0
    for name, svc in app_services(compose).items():
        test = (svc.get("healthcheck") or {}).get("test")
        if not test:
            continue
        assert test[:3] == ["CMD", "python", "-c"], name
        compile(test[3], f"{name}-healthcheck", "exec")
        checked += 1
    assert checked == len(SERVICES)
