"""deploy/k8s/preflight.sh against a fake cluster (a kubectl stand-in on PATH that answers
from a JSON description): ready when every prerequisite is there in a new enough version,
each missing or outdated one named otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PREFLIGHT = ROOT / "deploy" / "k8s" / "preflight.sh"

FAKE = r"""
import json, os, sys
cluster = json.load(open(os.environ["FAKE_CLUSTER"]))
args = sys.argv[1:]
ns = None
if args[:1] == ["-n"]:
    ns, args = args[1], args[2:]
if args[:1] == ["version"]:
    print(json.dumps({"serverVersion": cluster["server"]})); sys.exit(0)
if args[:2] == ["get", "deployments"]:
    print("\n".join(cluster["images"].get(ns, []))); sys.exit(0)
if args[:2] == ["get", "services"]:  # the LoadBalancer Services' externalTrafficPolicy
    print("".join(p + "\n" for p in cluster["ingress"]["policies"]), end=""); sys.exit(0)
if args[:2] == ["get", "configmap"]:  # ingress-nginx's use-proxy-protocol
    print(cluster["ingress"]["proxy"], end=""); sys.exit(0)
if args[:2] == ["get", "apiservice"]:
    print("True" if cluster["metrics"] else "False"); sys.exit(0)
if args[:1] == ["get"] and len(args) >= 3:
    key = f"{ns}/{args[1]}/{args[2]}" if ns else f"{args[1]}/{args[2]}"
    sys.exit(0 if key in cluster["objects"] else 1)
sys.exit(2)
"""

SECRETS = [
    "registry-database", "identity-database", "procurement-database", "samen-pg-registry",
    "samen-pg-identity", "samen-pg-procurement", "redis-credentials", "gateway-redis",
    "identity-keys", "registry-keys", "procurement-client", "registry-client", "gateway-client",
    "samen-pg-backup", "portal-database", "samen-pg-portal", "portal-client",
    "portal-reader-client",
]  # fmt: skip
CRDS = [
    "clusters.postgresql.cnpg.io", "databases.postgresql.cnpg.io", "poolers.postgresql.cnpg.io",
    "scheduledbackups.postgresql.cnpg.io", "servicemonitors.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com",
    "certificates.cert-manager.io", "clusterissuers.cert-manager.io",
]  # fmt: skip


def ready_cluster() -> dict[str, Any]:
    return {
        "server": {"major": "1", "minor": "31+"},
        "images": {
            "cnpg-system": ["ghcr.io/cloudnative-pg/cloudnative-pg:1.26.1"],
            "cert-manager": ["quay.io/jetstack/cert-manager-controller:v1.17.2"],
            "ingress-nginx": ["registry.k8s.io/ingress-nginx/controller:v1.12.1@sha256:" + "a" * 64],
            "monitoring": ["quay.io/prometheus-operator/prometheus-operator:v0.82.0"],
        },
        "metrics": True,
        "ingress": {"policies": ["Local"], "proxy": ""},
        "objects": [*(f"crd/{c}" for c in CRDS), "ingressclass/nginx",
                    "clusterissuer/letsencrypt", *(f"samen/secret/{s}" for s in SECRETS)],
    }  # fmt: skip


def preflight(tmp_path: Path, cluster: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "cluster.json").write_text(json.dumps(cluster))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "fake.py").write_text(FAKE)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\nexec {sys.executable} -S {tmp_path / "fake.py"} "$@"\n')
    kubectl.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "FAKE_CLUSTER": str(tmp_path / "cluster.json")}  # fmt: skip
    return subprocess.run(["bash", str(PREFLIGHT)], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_a_ready_cluster_passes(tmp_path: Path) -> None:
    done = preflight(tmp_path, ready_cluster())
    assert done.returncode == 0, done.stdout
    assert "FAIL" not in done.stdout
    assert "ok    CloudNativePG operator 1.26.1 (>= 1.25.0)" in done.stdout
    assert "ok    ingress-nginx controller v1.12.1 (>= 1.11.0)" in done.stdout
    assert "ok    ingress-nginx sees client addresses (externalTrafficPolicy Local)" in done.stdout


def test_visitors_behind_node_addresses_are_named(tmp_path: Path) -> None:
    """externalTrafficPolicy Cluster without PROXY protocol: every visitor would share the
    anonymous rate limit of a node's address."""
    cluster = ready_cluster()
    cluster["ingress"] = {"policies": ["Cluster"], "proxy": ""}
    done = preflight(tmp_path, cluster)
    assert done.returncode == 1
    assert (
        "FAIL  ingress-nginx: externalTrafficPolicy Cluster without PROXY protocol" in done.stdout
    )
    cluster["ingress"] = {"policies": ["Cluster"], "proxy": "true"}
    done = preflight(tmp_path, cluster)
    assert done.returncode == 0, done.stdout
    assert "ok    ingress-nginx sees client addresses (PROXY protocol)" in done.stdout


def test_missing_and_outdated_prerequisites_are_named(tmp_path: Path) -> None:
    cluster = ready_cluster()
    cluster["images"]["cnpg-system"] = ["ghcr.io/cloudnative-pg/cloudnative-pg:1.24.3"]
    cluster["server"] = {"major": "1", "minor": "29"}
    cluster["metrics"] = False
    cluster["objects"].remove("crd/poolers.postgresql.cnpg.io")
    cluster["objects"].remove("samen/secret/samen-pg-backup")
    del cluster["images"]["monitoring"]
    done = preflight(tmp_path, cluster)
    assert done.returncode == 1
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert failures == [
        "FAIL  Kubernetes 1.29: 1.30 or later needed",
        "FAIL  CloudNativePG operator 1.24.3: 1.25.0 or later needed",
        "FAIL  Prometheus operator: not found in namespace monitoring",
        "FAIL  CRD poolers.postgresql.cnpg.io missing",
        "FAIL  metrics-server: metrics.k8s.io not available (the HPAs need it)",
        "FAIL  secret samen/samen-pg-backup missing (deploy/k8s/create-secrets.sh production;"
        " samen-pg-backup: deploy/README.md)",
    ]
