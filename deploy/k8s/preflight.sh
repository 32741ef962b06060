#!/usr/bin/env bash
# Checks a cluster for what the production overlay needs before the first apply
# (deploy/README.md, "Prerequisites"): versions of Kubernetes and the operators, their
# custom resources, the ClusterIssuer, metrics-server, that ingress-nginx sees visitors'
# addresses, and the Secrets.
#   deploy/k8s/preflight.sh [NAMESPACE]        exit 0: ready; 1: something is missing
set -uo pipefail
ns=${1:-samen}
failed=0
ok() { printf 'ok    %s\n' "$*"; }
bad() {
  printf 'FAIL  %s\n' "$*"
  failed=1
}
# at_least HAVE WANT: version HAVE (v-prefix and suffixes ignored) >= WANT
at_least() {
  local have=${1#v}
  have=${have%%[-+@]*}
  [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$2" "$have" | sort -V | head -1)" = "$2" ]
}
# image_version NAMESPACE PATTERN: the tag of the first container image matching PATTERN
image_version() {
  kubectl -n "$1" get deployments -o jsonpath='{range .items[*]}{range .spec.template.spec.containers[*]}{.image}{"\n"}{end}{end}' 2>/dev/null |
    grep -E "$2" | head -1 | sed -E 's/@sha256:.*//; s/.*://'
}
need_version() { # what namespace pattern minimum
  local version
  version=$(image_version "$2" "$3")
  if [ -z "$version" ]; then
    bad "$1: not found in namespace $2"
  elif at_least "$version" "$4"; then
    ok "$1 $version (>= $4)"
  else
    bad "$1 $version: $4 or later needed"
  fi
}

server=$(kubectl version -o json 2>/dev/null | python3 -c 'import json, sys; v = json.load(sys.stdin)["serverVersion"]; print(v["major"] + "." + v["minor"].rstrip("+"))' 2>/dev/null)
if [ -z "$server" ]; then
  bad "Kubernetes API server not reachable (kubectl version)"
elif at_least "$server" 1.30; then
  ok "Kubernetes $server (>= 1.30)"
else
  bad "Kubernetes $server: 1.30 or later needed"
fi

need_version "CloudNativePG operator" cnpg-system 'cloudnative-pg' 1.25.0
need_version "cert-manager" cert-manager 'cert-manager-controller' 1.15.0
need_version "ingress-nginx controller" ingress-nginx 'ingress-nginx/controller' 1.11.0
need_version "Prometheus operator" monitoring 'prometheus-operator' 0.75.0

for crd in clusters.postgresql.cnpg.io databases.postgresql.cnpg.io poolers.postgresql.cnpg.io \
  scheduledbackups.postgresql.cnpg.io servicemonitors.monitoring.coreos.com \
  podmonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com \
  certificates.cert-manager.io clusterissuers.cert-manager.io; do
  if kubectl get crd "$crd" >/dev/null 2>&1; then ok "CRD $crd"; else bad "CRD $crd missing"; fi
done

if kubectl get ingressclass nginx >/dev/null 2>&1; then ok "IngressClass nginx"; else bad "IngressClass nginx missing"; fi
# The gateway limits anonymous requests per client address, as the controller saw it: with
# externalTrafficPolicy Cluster and no PROXY protocol that is a node's address, shared by
# every visitor.
policies=$(kubectl -n ingress-nginx get services -o jsonpath='{range .items[?(@.spec.type=="LoadBalancer")]}{.spec.externalTrafficPolicy}{"\n"}{end}' 2>/dev/null)
proxy=$(kubectl -n ingress-nginx get configmap ingress-nginx-controller -o jsonpath='{.data.use-proxy-protocol}' 2>/dev/null)
if [ "$proxy" = true ]; then
  ok "ingress-nginx sees client addresses (PROXY protocol)"
elif [ -z "$policies" ]; then
  echo "note  ingress-nginx: no LoadBalancer Service; make sure the controller sees visitors' own addresses (deploy/README.md, Prerequisites)"
elif grep -qv '^Local$' <<<"$policies"; then
  bad "ingress-nginx: externalTrafficPolicy Cluster without PROXY protocol: all visitors share a node's rate limit (set Local or use-proxy-protocol; deploy/README.md)"
else
  ok "ingress-nginx sees client addresses (externalTrafficPolicy Local)"
fi
if kubectl get clusterissuer letsencrypt >/dev/null 2>&1; then ok "ClusterIssuer letsencrypt"; else bad "ClusterIssuer letsencrypt missing"; fi
available=$(kubectl get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>/dev/null)
if [ "$available" = True ]; then ok "metrics-server (metrics.k8s.io available)"; else bad "metrics-server: metrics.k8s.io not available (the HPAs need it)"; fi

for secret in registry-database identity-database procurement-database samen-pg-registry \
  samen-pg-identity samen-pg-procurement redis-credentials gateway-redis identity-keys \
  registry-keys procurement-client registry-client gateway-client samen-pg-backup \
  portal-database samen-pg-portal portal-client portal-reader-client; do
  if kubectl -n "$ns" get secret "$secret" >/dev/null 2>&1; then
    ok "secret $ns/$secret"
  else
    bad "secret $ns/$secret missing (deploy/k8s/create-secrets.sh production; samen-pg-backup: deploy/README.md)"
  fi
done
if kubectl -n "$ns" get secret identity-upstreams >/dev/null 2>&1; then
  ok "secret $ns/identity-upstreams"
else
  echo "note  secret $ns/identity-upstreams absent: no upstream login means until it exists"
fi

if [ "$failed" = 0 ]; then echo "preflight: ready for deploy/k8s/overlays/production"; else echo "preflight: fix the FAIL lines first"; fi
exit "$failed"
