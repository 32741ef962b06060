"""Platform rules for the rendered kustomize overlays that no linter knows.

Each overlay is rendered with `kubectl kustomize` (skipped, with the reason, where kubectl
is missing); deploy/check.sh adds schema validation and checkov on top."""

from __future__ import annotations

import re
from typing import Any

import pytest
from deploy_helpers import (
    OVERLAYS,
    PUBLIC_SERVICE,
    ROOT,
    SERVICES,
    check_production_ready,
    env_keys,
    labels_match,
    placeholder,
    pod_spec,
    settings_class,
)

Objects = dict[str, list[dict[str, Any]]]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 (inside the pod, behind its NetworkPolicy)


def of_kind(objs: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] in kinds]


def named(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, rendered: Objects) -> tuple[str, list[dict[str, Any]]]:
    name: str = request.param
    return name, rendered[name]


def test_overlays_exist() -> None:
    assert set(OVERLAYS) == {"dev", "production"}


def test_only_the_gateway_is_exposed(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _name, objs = overlay
    for svc in of_kind(objs, "Service"):
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", svc["metadata"]["name"]
        assert not svc["spec"].get("externalIPs")
    ingresses = of_kind(objs, "Ingress")
    assert len(ingresses) == 1
    routes = {
        path["path"]: path["backend"]["service"]["name"]
        for rule in ingresses[0]["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routes.pop("/") == PUBLIC_SERVICE
    # /metrics and /health/* (readiness details) go to a Service without endpoints: the
    # controller answers 503, and the longest matching prefix wins over `/`.
    assert routes == {"/metrics": "not-public", "/health": "not-public"}
    sink = named(objs, "Service", "not-public")
    assert "selector" not in sink["spec"]
    assert not of_kind(objs, "Endpoints", "EndpointSlice")
    assert "defaultBackend" not in ingresses[0]["spec"]
    for obj in of_kind(objs, *WORKLOADS):
        spec = pod_spec(obj)
        assert spec is not None
        assert not spec.get("hostNetwork"), obj["metadata"]["name"]
        for c in containers(spec):
            assert all("hostPort" not in p for p in c.get("ports", [])), c["name"]


def test_network_policies_deny_by_default_and_only_the_gateway_takes_outside_traffic(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _name, objs = overlay
    policies = of_kind(objs, "NetworkPolicy")
    deny = named(objs, "NetworkPolicy", "default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    for pol in policies:
        for rule in pol["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                assert "ipBlock" not in peer, f"{pol['metadata']['name']}: no address-based ingress"
                ns = (peer.get("namespaceSelector") or {}).get("matchLabels", {})
                if ns.get("kubernetes.io/metadata.name") == "ingress-nginx":
                    assert pol["metadata"]["name"] == PUBLIC_SERVICE
    # Every service pod has its own policy, with ingress only on its port.
    for service, (_m, _d, port, _g) in SERVICES.items():
        pol = named(objs, "NetworkPolicy", service)
        for rule in pol["spec"]["ingress"]:
            assert [p["port"] for p in rule["ports"]] == [port]


def test_every_container_has_requests_and_limits(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _name, objs = overlay
    for obj in of_kind(objs, *WORKLOADS):
        spec = pod_spec(obj)
        assert spec is not None
        for c in containers(spec):
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    assert resource in res.get(part, {}), (
                        f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}: no {part}.{resource}"
                    )


def test_every_long_running_container_has_probes(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _name, objs = overlay
    for obj in of_kind(objs, *LONG_RUNNING):
        spec = pod_spec(obj)
        assert spec is not None
        for c in spec["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in c, f"{obj['metadata']['name']}/{c['name']}: no {probe}"


def test_every_deployment_has_a_pdb_and_an_hpa(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, objs = overlay
    pdbs = of_kind(objs, "PodDisruptionBudget")
    hpas = of_kind(objs, "HorizontalPodAutoscaler")
    for dep in of_kind(objs, "Deployment"):
        dep_name = dep["metadata"]["name"]
        labels = pod_labels(dep)
        covering = [p for p in pdbs if labels_match(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{dep_name}: {len(covering)} PodDisruptionBudgets"
        # maxUnavailable, not minAvailable: a one-replica dev Deployment can still be drained.
        assert covering[0]["spec"].get("maxUnavailable") == 1
        scaling = [
            h
            for h in hpas
            if h["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep_name}
        ]
        assert len(scaling) == 1, f"{dep_name}: {len(scaling)} HorizontalPodAutoscalers"
        hpa = scaling[0]["spec"]
        assert hpa["minReplicas"] <= hpa["maxReplicas"]
        # The HPA owns the count: a fixed value would reset it on every apply.
        assert "replicas" not in dep["spec"], f"{dep_name}: replicas set beside its HPA"
        if name == "production":
            assert hpa["minReplicas"] >= 2, dep_name
    for hpa_obj in hpas:
        target = hpa_obj["spec"]["scaleTargetRef"]
        named(objs, target["kind"], target["name"])


def test_dev_runs_one_replica(rendered: Objects) -> None:
    for service in SERVICES:
        named(rendered["dev"], "Deployment", service)
        assert (
            named(rendered["dev"], "HorizontalPodAutoscaler", service)["spec"]["minReplicas"] == 1
        )


def test_pods_are_locked_down(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _name, objs = overlay
    for obj in of_kind(objs, *WORKLOADS):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = pod_spec(obj)
        assert spec is not None
        assert spec.get("automountServiceAccountToken") is False, where
        assert spec.get("enableServiceLinks") is False, where
        psc = spec.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, where
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        for c in containers(spec):
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            assert sc.get("privileged", False) is False, where
            assert sc.get("runAsUser", psc.get("runAsUser", 0)) >= 10000, where
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1], f"{where}: image without a tag"
            assert not image.endswith(":latest"), where
    for sa in of_kind(objs, "ServiceAccount"):
        assert sa.get("automountServiceAccountToken") is False, sa["metadata"]["name"]


def test_secrets_are_referenced_never_written(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _name, objs = overlay
    assert not of_kind(objs, "Secret"), "Secrets are created out of band (deploy/README.md)"
    for cm in of_kind(objs, "ConfigMap"):
        for key in cm.get("data", {}):
            assert not key.endswith(("PASSWORD", "SECRET", "_KEY", "_TOKEN", "DATABASE_URL")), (
                f"{cm['metadata']['name']}: {key} belongs in a Secret"
            )


def service_env(objs: list[dict[str, Any]], obj: dict[str, Any]) -> dict[str, str]:
    """A container's environment as the pod would see it, secrets as placeholders."""
    spec = pod_spec(obj)
    assert spec is not None
    container = spec["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        cm = named(objs, "ConfigMap", source["configMapRef"]["name"])
        env.update(cm.get("data", {}))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            assert "secretKeyRef" in item["valueFrom"], item["name"]
            env[item["name"]] = placeholder(item["name"])
    return env


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_settings(overlay: tuple[str, list[dict[str, Any]]], service: str) -> None:
    """Env keys exist in the settings class; the result is a production configuration."""
    name, objs = overlay
    migrates = SERVICES[service][3]
    keys = env_keys(settings_class(service))
    dep = named(objs, "Deployment", service)
    workloads = [dep]
    if migrates:
        workloads.append(named(objs, "Job", f"{service}-migrate"))
    for obj in workloads:
        env = service_env(objs, obj)
        unknown = sorted(set(env) - set(keys))
        assert not unknown, f"{name}: {obj['metadata']['name']} sets unknown variables {unknown}"
    env = service_env(objs, dep)
    check_production_ready(service, env)
    if migrates:
        assert env[f"{service.upper()}_DATABASE_URL"].startswith("postgresql+asyncpg://")
    if name == "production":
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_SDK_DISABLED"] == "false"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_wiring(overlay: tuple[str, list[dict[str, Any]]], service: str) -> None:
    _name, objs = overlay
    _m, _d, port, migrates = SERVICES[service]
    dep = named(objs, "Deployment", service)
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["command"] == [
        "python",
        "-m",
        service,
        "serve",
        "--host",
        ANY_ADDRESS,
        "--port",
        str(port),
    ]
    assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    # Graceful shutdown: the preStop pause plus uvicorn's 10 s drain fit in the grace period.
    pause = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert spec["terminationGracePeriodSeconds"] >= pause + 10 + 5
    assert {t["topologyKey"] for t in spec["topologySpreadConstraints"]} >= {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    svc = named(objs, "Service", service)
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}
    ]
    assert labels_match({"matchLabels": svc["spec"]["selector"]}, pod_labels(dep))
    sa = named(objs, "ServiceAccount", service)
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    if migrates:
        job = named(objs, "Job", f"{service}-migrate")
        (mc,) = job["spec"]["template"]["spec"]["containers"]
        assert mc["command"] == ["python", "-m", service, "migrate"]
        assert mc["image"] == c["image"], "the migration runs the same image as the service"
    else:
        assert not [j for j in of_kind(objs, "Job") if j["metadata"]["name"].startswith(service)]


def test_production_extras(rendered: Objects) -> None:
    objs = rendered["production"]
    ingress = named(objs, "Ingress", "samen")
    assert ingress["spec"]["tls"][0]["secretName"]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert set(ingress["spec"]["tls"][0]["hosts"]) == hosts
    cluster = named(objs, "Cluster", "samen-pg")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] >= 2
    roles = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    databases = {(d["spec"]["name"], d["spec"]["owner"]) for d in of_kind(objs, "Database")}
    migrating = {s for s, (_m, _d, _p, g) in SERVICES.items() if g}
    assert roles == migrating
    assert databases == {(s, s) for s in migrating}
    named(objs, "Deployment", "otel-collector")
    named(objs, "StatefulSet", "redis")
    gateway_env = service_env(objs, named(objs, "Deployment", PUBLIC_SERVICE))
    assert "GATEWAY_REDIS_URL" in gateway_env
    assert not [
        o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "postgres"
    ]


def test_dev_extras(rendered: Objects) -> None:
    objs = rendered["dev"]
    named(objs, "StatefulSet", "postgres")
    assert not of_kind(objs, "Cluster")
    assert named(objs, "Namespace", "samen-dev")
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "samen-dev", obj["metadata"]["name"]


def secret_refs(objs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()
    for obj in of_kind(objs, *WORKLOADS):
        spec = pod_spec(obj)
        assert spec is not None
        for c in containers(spec):
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                for item in volume["secret"].get("items", []):
                    refs.add((volume["secret"]["secretName"], item["key"]))
    for cluster in of_kind(objs, "Cluster"):
        for role in cluster["spec"].get("managed", {}).get("roles", []):
            refs.add((role["passwordSecret"]["name"], "password"))
        store = cluster["spec"].get("backup", {}).get("barmanObjectStore", {})
        for ref in store.get("s3Credentials", {}).values():
            refs.add((ref["name"], ref["key"]))
    return refs


# Secrets that hold what only the operator has (object store credentials, the upstream
# IdPs' client registrations): deploy/README.md says how to create each.
OPERATOR_SECRETS = {"samen-pg-backup", "identity-upstreams"}


def test_create_secrets_script_provides_every_referenced_secret(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _name, objs = overlay
    script = (ROOT / "deploy" / "k8s" / "create-secrets.sh").read_text()
    readme = (ROOT / "deploy" / "README.md").read_text()
    refs = secret_refs(objs)
    assert refs
    for name, key in refs:
        if name in OPERATOR_SECRETS:
            assert f"secret generic {name}" in readme, f"deploy/README.md: how to create {name}"
            continue
        spellings = {name} | {name.replace(s, "$svc") for s in SERVICES if s in name}
        created = (
            re.search(rf'\b(secret (generic )?|basic_auth )"?{re.escape(n)}"?\s', script)
            for n in spellings
        )
        assert any(created), f"create-secrets.sh does not create {name}"
        assert f"{key}=" in script, f"create-secrets.sh does not set {name}/{key}"


def test_preflight_checks_every_referenced_secret(rendered: Objects) -> None:
    """The production preflight names each Secret the production overlay needs before
    anything is applied (identity-upstreams is optional: no upstream login means yet)."""
    script = (ROOT / "deploy" / "k8s" / "preflight.sh").read_text()
    listed = set(re.findall(r"[a-z0-9-]+", script.split("for secret in", 1)[1].split("; do", 1)[0]))
    needed = {name for name, _key in secret_refs(rendered["production"])} - {"identity-upstreams"}
    assert needed - listed == set(), "preflight.sh does not check these Secrets"


def _port_allowed(rule: dict[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port for p in ports)


def _peer_allows(peers: list[dict[str, Any]] | None, labels: dict[str, str]) -> bool:
    if peers is None:  # no `to`/`from`: any peer
        return True
    return any(
        "podSelector" in peer
        and "namespaceSelector" not in peer
        and labels_match(peer["podSelector"], labels)
        for peer in peers
    )


def allows(
    policies: list[dict[str, Any]], src: dict[str, str], dst: dict[str, str], port: int
) -> bool:
    """Whether the NetworkPolicies let a pod labelled `src` open `port` on a pod `dst`."""
    egress = [
        r
        for p in policies
        if "Egress" in p["spec"]["policyTypes"] and labels_match(p["spec"]["podSelector"], src)
        for r in p["spec"].get("egress", [])
    ]
    ingress = [
        r
        for p in policies
        if "Ingress" in p["spec"]["policyTypes"] and labels_match(p["spec"]["podSelector"], dst)
        for r in p["spec"].get("ingress", [])
    ]
    out_ok = any(_port_allowed(r, port) and _peer_allows(r.get("to"), dst) for r in egress)
    in_ok = any(_port_allowed(r, port) and _peer_allows(r.get("from"), src) for r in ingress)
    return out_ok and in_ok


URL_HOST = re.compile(r"^[a-z0-9+]+://(?:[^@/]*@)?(?P<host>[a-z0-9.-]+):(?P<port>\d+)")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_network_policies_allow_every_configured_upstream(
    overlay: tuple[str, list[dict[str, Any]]], service: str
) -> None:
    """Every in-namespace URL a service is configured with is reachable through the
    NetworkPolicies (and so the policies follow the settings, not the other way round)."""
    name, objs = overlay
    policies = of_kind(objs, "NetworkPolicy")
    services = {s["metadata"]["name"]: s for s in of_kind(objs, "Service")}
    dep = named(objs, "Deployment", service)
    src = pod_labels(dep)
    env = service_env(objs, dep)
    checked = 0
    for key, value in env.items():
        m = URL_HOST.match(value)
        if not m or m.group("host") not in services:
            continue
        target = services[m.group("host")]
        port = int(m.group("port"))
        (svc_port,) = [p for p in target["spec"]["ports"] if p["port"] == port]
        # The pods behind the Service, found through the workload it selects.
        backends = [
            o
            for o in of_kind(objs, "Deployment", "StatefulSet")
            if labels_match({"matchLabels": target["spec"]["selector"]}, pod_labels(o))
        ]
        assert backends, f"{name}: Service {target['metadata']['name']} selects no pods"
        for backend in backends:
            container_port = svc_port["targetPort"]
            if isinstance(container_port, str):
                (container_port,) = [
                    p["containerPort"]
                    for c in backend["spec"]["template"]["spec"]["containers"]
                    for p in c.get("ports", [])
                    if p.get("name") == container_port
                ]
            assert allows(policies, src, pod_labels(backend), container_port), (
                f"{name}: {service} is configured with {key}={value} but NetworkPolicies block it"
            )
        checked += 1
    if service == PUBLIC_SERVICE:
        assert checked >= 3, "the gateway's upstreams were checked"


def test_network_policy_check_can_fail(rendered: Objects) -> None:
    objs = rendered["production"]
    policies = of_kind(objs, "NetworkPolicy")
    registry = pod_labels(named(objs, "Deployment", "registry"))
    procurement = pod_labels(named(objs, "Deployment", "procurement"))
    assert allows(policies, procurement, registry, 8002)
    assert not allows(policies, registry, procurement, 8003), "registry never calls procurement"


def test_our_images_come_from_a_named_registry(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    """A bare `samen/<service>` would be pulled from Docker Hub, where anyone could own it."""
    _name, objs = overlay
    for service in SERVICES:
        image = named(objs, "Deployment", service)["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        host = image.split("/", 1)[0]
        assert "." in host or ":" in host or host == "localhost", image
        assert image.rsplit(":", 1)[0].endswith(f"/samen/{service}"), image
