"""Operations rules on the rendered production overlay (issue 20): the connection budget,
identity's CronJobs, backups, monitors and alerts (every metric they read exists), custom
resources against their vendored schemas, the public host and the image tag each set in
one place, Redis' password and PDB, egress for upstream IdPs and webhooks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import K8S, ROOT, SERVICES, pod_spec
from test_k8s import named, of_kind, service_env

Objs = list[dict[str, Any]]
DATABASE_SERVICES = [s for s, (_m, _d, _p, migrates) in SERVICES.items() if migrates]
# Metrics published by exporters the prerequisites bring (deploy/README.md), by prefix.
EXPORTER_PREFIXES = ("kube_", "certmanager_", "cnpg_")
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "on", "rate", "increase", "time", "and", "or",
    "unless", "histogram_quantile", "without", "ignoring", "group_left", "group_right", "le",
    "bool", "offset",
}  # fmt: skip


@pytest.fixture(scope="module")
def prod(rendered: dict[str, Objs]) -> Objs:
    return rendered["production"]


# ---------------------------------------------------------------- connections


def connection_figures(objs: Objs) -> dict[str, int]:
    """Both sides of the connection budget, from the rendered objects alone."""
    pooler = named(objs, "Pooler", "samen-pg-pooler-rw")["spec"]
    params = pooler["pgbouncer"]["parameters"]
    cluster = named(objs, "Cluster", pooler["cluster"]["name"])["spec"]
    pg = cluster["postgresql"]["parameters"]
    clients = 0
    for service in DATABASE_SERVICES:
        env = service_env(objs, named(objs, "Deployment", service))
        prefix = service.upper() + "_"
        pool = int(env[f"{prefix}DB_POOL_SIZE"]) + int(env[f"{prefix}DB_MAX_OVERFLOW"])
        clients += named(objs, "HorizontalPodAutoscaler", service)["spec"]["maxReplicas"] * pool
    per_database = int(params["default_pool_size"]) + int(params.get("reserve_pool_size", "0"))
    reserved = int(pg.get("superuser_reserved_connections", "3"))
    return {
        "clients": clients,
        "max_client_conn": int(params["max_client_conn"]),
        "servers": pooler["instances"] * len(of_kind(objs, "Database")) * per_database,
        "max_connections": int(pg["max_connections"]),
        "reserved": reserved,
        "room": int(pg["max_connections"]) - reserved - 20,
    }


def connection_budget(objs: Objs) -> list[str]:
    """What does not fit (empty when everything does)."""
    f = connection_figures(objs)
    problems: list[str] = []
    if f["clients"] > f["max_client_conn"]:
        problems.append(f"clients {f['clients']} > max_client_conn {f['max_client_conn']}")
    if f["servers"] > f["room"]:
        problems.append(f"server connections {f['servers']} > {f['room']}")
    return problems


def test_connection_budget_fits(prod: Objs) -> None:
    pooler = named(prod, "Pooler", "samen-pg-pooler-rw")["spec"]
    assert pooler["type"] == "rw"
    assert pooler["pgbouncer"]["poolMode"] == "transaction"
    # asyncpg's prepared statements through transaction pooling (PgBouncer >= 1.21).
    assert int(pooler["pgbouncer"]["parameters"]["max_prepared_statements"]) > 0
    assert connection_budget(prod) == []


def test_readme_states_the_rendered_connection_budget(prod: Objs) -> None:
    f = connection_figures(prod)
    readme = " ".join((ROOT / "deploy" / "README.md").read_text().split())
    assert f"= {f['clients']} ≤ {f['max_client_conn']};" in readme
    minus = "\N{MINUS SIGN}"  # as the README writes it
    room = f"{f['max_connections']} {minus} {f['reserved']} {minus} 20 = {f['room']}"
    assert f"= {f['servers']} ≤ {room}." in readme


def test_connection_budget_check_can_fail(prod: Objs) -> None:
    bigger = json.loads(json.dumps(prod))
    named(bigger, "HorizontalPodAutoscaler", "registry")["spec"]["maxReplicas"] = 40
    named(bigger, "Pooler", "samen-pg-pooler-rw")["spec"]["instances"] = 3
    problems = connection_budget(bigger)
    assert any(p.startswith("clients") for p in problems)
    assert any(p.startswith("server connections") for p in problems)


# ---------------------------------------------------------------- CPU requests and scaling

# Server CPU per request the benchmarks measured (bench/results: registry reads 0.5-0.8 ms,
# the gateway's proxying 0.3-0.5 ms, identity's grants 0.6-0.9 ms): the top of the range.
CPU_MS_PER_REQUEST = 0.8
# A pod should carry at least this many requests/s before the HPA adds another.
REQUESTS_PER_SECOND_BEFORE_SCALING = 300


def millicores(value: str | int) -> float:
    text = str(value)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


@pytest.mark.parametrize("part", sorted(SERVICES))
def test_cpu_requests_fit_the_measured_cost(prod: Objs, part: str) -> None:
    """The HPA scales at request x target: low enough that a pod scales out before its one
    process saturates its core (the limit), high enough that it is not at a few dozen
    requests/s (a 100m request scaled at 70m)."""
    (container,) = named(prod, "Deployment", part)["spec"]["template"]["spec"]["containers"]
    resources = container["resources"]
    ((metric,),) = [named(prod, "HorizontalPodAutoscaler", part)["spec"]["metrics"]]
    target = metric["resource"]["target"]["averageUtilization"] / 100
    scale_at = millicores(resources["requests"]["cpu"]) * target
    assert scale_at / CPU_MS_PER_REQUEST >= REQUESTS_PER_SECOND_BEFORE_SCALING, part
    assert scale_at < millicores(resources["limits"]["cpu"]), part


# ---------------------------------------------------------------- CronJobs and backups


def identity_commands() -> set[str]:
    done = subprocess.run([sys.executable, "-m", "identity", "--help"], capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    match = re.search(r"\{([a-z,-]+)\}", done.stdout)
    assert match, done.stdout
    return set(match.group(1).split(","))


def test_identity_cronjobs(prod: Objs) -> None:
    commands = identity_commands()
    cronjobs = {c["metadata"]["name"]: c for c in of_kind(prod, "CronJob")}
    assert set(cronjobs) >= {"identity-rotate-keys", "identity-prune-keys", "identity-purge"}
    for name, cronjob in cronjobs.items():
        spec = cronjob["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert len(spec["schedule"].split()) == 5, name
        pod = pod_spec(cronjob)
        assert pod is not None
        (container,) = pod["containers"]
        assert container["command"][:3] == ["python", "-m", "identity"]
        assert container["command"][3] in commands, f"{name}: no such command"
        env = service_env(prod, cronjob)
        assert env["IDENTITY_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "IDENTITY_KEY_ENCRYPTION_KEY" in env  # rotate-keys seals the new keys
        assert env["IDENTITY_ENVIRONMENT"] == "production"


def test_backups(prod: Objs) -> None:
    cluster = named(prod, "Cluster", "samen-pg")["spec"]
    store = cluster["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    assert store["wal"]["compression"]  # WAL archiving, compressed
    assert cluster["backup"]["retentionPolicy"]
    (scheduled,) = of_kind(prod, "ScheduledBackup")
    assert scheduled["spec"]["cluster"]["name"] == "samen-pg"
    assert scheduled["spec"]["method"] == "barmanObjectStore"
    readme = (ROOT / "deploy" / "README.md").read_text()
    for step in (
        "bootstrap:",
        "recovery:",
        "externalClusters:",
        "deploy/compose/backup.sh restore",
    ):
        assert step in readme, f"restore runbook: {step}"


def test_custom_resources_match_their_vendored_schemas(rendered: dict[str, Objs]) -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        from crd_schemas import CUSTOM_GROUPS, custom_errors
    finally:
        sys.path.pop(0)
    seen = set()
    for objs in rendered.values():
        for obj in objs:
            if obj["apiVersion"].split("/")[0] in CUSTOM_GROUPS:
                seen.add(obj["kind"])
                assert custom_errors(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"
    assert seen >= {"Cluster", "Pooler", "ScheduledBackup", "ServiceMonitor", "PodMonitor",
                    "PrometheusRule"}  # fmt: skip
    broken = json.loads(json.dumps(named(rendered["production"], "Pooler", "samen-pg-pooler-rw")))
    broken["spec"]["pgbouncer"]["poolMod"] = broken["spec"]["pgbouncer"].pop("poolMode")
    assert custom_errors(broken), "a misspelt field must fail"


# ---------------------------------------------------------------- monitoring


def published_metrics() -> set[str]:
    """The metric names the parts publish (sample names, as Prometheus stores them)."""
    from gateway.metrics import GatewayMetrics
    from registry.webhooks.backlog import WebhookBacklog, WebhookBacklogCollector
    from servicekit.health import Dependencies
    from servicekit.revocations import RevocationFeedCollector
    from servicekit.telemetry import Metrics

    families = [*Metrics("any").registry.collect(), *GatewayMetrics().registry.collect()]
    families += list(Dependencies({}).collector().collect())
    families += list(WebhookBacklogCollector(WebhookBacklog(measured=True)).collect())

    class Feed:
        revoked: dict[str, Any] = {}

        def age(self) -> float:
            return 1.0

    families += list(RevocationFeedCollector(Feed()).collect())  # type: ignore[arg-type]
    names = set()
    for family in families:
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        for suffix in suffixes.get(family.type, [""]):
            names.add(family.name + suffix)
    return names


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_groupings = re.sub(r"\b(by|on|without|ignoring)\s*\([^)]*\)", "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_groupings)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", w)}


def test_every_part_has_a_monitor(prod: Objs) -> None:
    monitors = of_kind(prod, "ServiceMonitor")
    for service in SERVICES:
        svc = named(prod, "Service", service)
        covering = [
            m for m in monitors
            if m["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
        ]  # fmt: skip
        assert len(covering) == 1, f"{service}: {len(covering)} ServiceMonitors"
        ports = {p["name"] for p in svc["spec"]["ports"]}
        assert {e["port"] for e in covering[0]["spec"]["endpoints"]} <= ports
        assert covering[0]["spec"]["endpoints"][0]["path"] == "/metrics"
    pod_monitors = {m["metadata"]["name"]: m for m in of_kind(prod, "PodMonitor")}
    assert (
        pod_monitors["samen-pg"]["spec"]["selector"]["matchLabels"]["cnpg.io/cluster"] == "samen-pg"
    )
    assert (
        "cnpg.io/poolerName"
        in pod_monitors["samen-pg-pooler-rw"]["spec"]["selector"]["matchLabels"]
    )


def test_alerts_cover_what_matters_and_read_real_metrics(prod: Objs) -> None:
    (rule,) = of_kind(prod, "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    wanted = {
        "error rate": "SamenHighErrorRate", "latency": "SamenHighLatency",
        "readiness": "SamenPodsNotReady", "certificate": "SamenCertificateExpiresSoon",
        "signing keys": "SamenSigningKeysNotRotated", "backup age": "SamenBackupTooOld",
        "webhook backlog": "SamenWebhookBacklog", "dependencies": "SamenDependencyDown",
    }  # fmt: skip
    assert set(wanted.values()) <= set(alerts)
    ours = published_metrics()
    dashboard_cm = named(prod, "ConfigMap", "samen-grafana-dashboard")
    assert dashboard_cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    (dashboard_json,) = dashboard_cm["data"].values()
    dashboard = json.loads(dashboard_json)
    exprs = [r["expr"] for r in alerts.values()]
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for expr in exprs:
        for name in metric_names(expr):
            assert name in ours or name.startswith(EXPORTER_PREFIXES), f"{name} in {expr!r}"
    for alert in alerts.values():
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}
        assert alert["annotations"]["summary"]
    # cert-manager's series carry the Certificate's namespace as exported_namespace
    # (namespace is cert-manager's own, where they are scraped).
    for expr in exprs:
        for selector in re.findall(r"certmanager_\w+\{([^}]*)\}", expr):
            assert 'exported_namespace="samen"' in selector, expr
            assert not re.search(r"(?<!exported_)namespace=", selector), expr


def test_metric_name_check_can_fail() -> None:
    assert metric_names('sum by (job) (rate(http_server_requestz_total{a="b"}[5m])) > 0.02') == {
        "http_server_requestz_total"
    }
    assert "http_server_requestz_total" not in published_metrics()


# ---------------------------------------------------------------- one place for host and tag


def test_public_host_is_set_in_one_place(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    host_file = tree / "overlays" / "production" / "public-host.yaml"
    host_file.write_text(host_file.read_text().replace("samen.example.org", "samen.gemeente.test"))
    text = subprocess.run([kubectl, "kustomize", str(tree / "overlays" / "production")],
                          check=True, capture_output=True, text=True, timeout=60).stdout  # fmt: skip
    objs = [d for d in yaml.safe_load_all(text) if d]
    assert "samen.example.org" not in text
    ingress = named(objs, "Ingress", "samen")
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["samen.gemeente.test"]
    assert ingress["spec"]["tls"][0]["hosts"] == ["samen.gemeente.test"]
    for service in SERVICES:
        env = service_env(objs, named(objs, "Deployment", service))
        urls = {k: v for k, v in env.items() if k.endswith(("_PUBLIC_URL", "_ISSUER"))}
        assert urls
        assert all(v == "https://samen.gemeente.test" for v in urls.values()), urls


def test_image_tags_come_from_the_packages_in_one_place(rendered: dict[str, Objs]) -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import images
    finally:
        sys.path.pop(0)
    versions = {part: version for part, (_f, version) in images.parts().items()}
    assert set(SERVICES) <= set(versions)
    base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    assert {i["name"]: i["newTag"] for i in base["images"]} == {
        f"samen/{p}": v for p, v in versions.items()
    }
    for overlay in (K8S / "overlays").iterdir():
        kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        assert all("newTag" not in i for i in kustomization.get("images", [])), overlay.name
    for objs in rendered.values():
        for obj in objs:
            spec = pod_spec(obj) if "spec" in obj else None
            for c in (spec or {}).get("containers", []):
                for part, version in versions.items():
                    if c["image"].rsplit("/", 1)[-1].startswith(f"{part}:"):
                        assert c["image"].endswith(f"/{part}:{version}"), c["image"]


def test_release_pin_writes_digests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import images
    finally:
        sys.path.pop(0)
    production = tmp_path / "kustomization.yaml"
    production.write_text(images.PRODUCTION.read_text())
    monkeypatch.setattr(images, "PRODUCTION", production)
    registry = "registry.example.org/samen"

    def docker(*args: str) -> str:
        part = args[-1].rsplit("/", 1)[-1].split(":")[0]
        digest = "sha256:" + f"{part:0<64}".replace("-", "0")[:64].encode().hex()[:64]
        return f"{registry}/{part}@{digest}\nother/{part}@sha256:{'f' * 64}\n"

    monkeypatch.setattr(images, "docker", docker)
    pinned = images.pin(registry)
    assert set(pinned) == set(images.parts())
    entries = {i["name"]: i for i in yaml.safe_load(production.read_text())["images"]}
    for part, digest in pinned.items():
        assert entries[f"samen/{part}"]["digest"] == digest
        assert entries[f"samen/{part}"]["newName"] == f"{registry}/{part}"
    assert images.pin(registry) == pinned  # again: replaces, never duplicates
    assert production.read_text().count("digest:") == len(pinned)


# ---------------------------------------------------------------- Redis, egress, admins


def test_redis_password_from_a_file_and_a_pdb(prod: Objs) -> None:
    redis = named(prod, "StatefulSet", "redis")
    pod = pod_spec(redis)
    assert pod is not None
    (container,) = pod["containers"]
    flat = json.dumps(container)
    assert "requirepass" not in " ".join(container.get("args", []))
    assert not [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    assert "/run/secrets/redis/password" in flat
    secret_volumes = [v for v in pod["volumes"] if "secret" in v]
    assert secret_volumes[0]["secret"]["secretName"] == "redis-credentials"
    (pdb,) = [p for p in of_kind(prod, "PodDisruptionBudget") if p["metadata"]["name"] == "redis"]
    assert pdb["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "redis"}


@pytest.mark.parametrize("service", ["identity", "registry"])
def test_public_https_egress(prod: Objs, service: str) -> None:
    policy = named(prod, "NetworkPolicy", service)
    public = [
        rule for rule in policy["spec"]["egress"]
        if any("ipBlock" in peer for peer in rule.get("to", []))
    ]  # fmt: skip
    assert len(public) == 1
    (peer,) = public[0]["to"]
    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert "10.0.0.0/8" in peer["ipBlock"]["except"]
    assert public[0]["ports"] == [{"protocol": "TCP", "port": 443}]


def test_identity_upstreams_and_admins(prod: Objs) -> None:
    identity = named(prod, "Deployment", "identity")
    pod = pod_spec(identity)
    assert pod is not None
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    ref = env["IDENTITY_UPSTREAMS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "identity-upstreams", "key": "upstreams", "optional": True}
    from identity.config import Settings

    demo = Settings.model_fields["admin_org_ids"].get_default(call_default_factory=True)
    admins = json.loads(service_env(prod, identity)["IDENTITY_ADMIN_ORG_IDS"])
    assert not set(admins) & set(demo), "production must not trust the demo operator"


def test_make_images_builds_and_pushes_every_part(tmp_path: Path) -> None:
    """`make images` / `make images-push` with a docker stand-in on PATH that logs its calls."""
    import os

    log = tmp_path / "docker.log"
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    docker.chmod(0o755)
    env = {**os.environ, "PATH": f"{docker.parent}{os.pathsep}{os.environ['PATH']}"}
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import images
    finally:
        sys.path.pop(0)
    registry = "registry.gemeente.test/samen"
    for action in ("build", "push"):
        subprocess.run([sys.executable, str(ROOT / "deploy" / "images.py"), action,
                        "--registry", registry], env=env, check=True, timeout=120)  # fmt: skip
    calls = log.read_text().splitlines()
    parts = images.parts()
    assert len(calls) == 2 * len(parts)
    for part, (dockerfile, version) in parts.items():
        assert (
            f"build -f {dockerfile} -t {registry}/{part}:{version} -t samen/{part}:{version} ."
            in calls
        )
        assert f"push {registry}/{part}:{version}" in calls
