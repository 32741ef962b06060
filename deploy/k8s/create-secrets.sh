#!/usr/bin/env bash
# Creates (or replaces) the Secrets the manifests reference, with fresh random values:
#   deploy/k8s/create-secrets.sh dev|production [NAMESPACE]
# Run it once before the first `kubectl apply -k`, and again to rotate (deploy/README.md).
# Values exist only in the cluster and in this process; nothing is written to disk.
set -euo pipefail
overlay=${1:?usage: $0 dev|production [namespace]}
case "$overlay" in
  dev) ns=${2:-samen-dev} db_host=postgres ;;
  production) ns=${2:-samen} db_host=samen-pg-rw ;;
  *) echo "unknown overlay $overlay" >&2; exit 2 ;;
esac

rand() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
apply() { kubectl -n "$ns" apply -f -; }
secret() { # name, then key=value pairs
  local name=$1
  shift
  local args=()
  for kv in "$@"; do args+=(--from-literal="$kv"); done
  kubectl -n "$ns" create secret generic "$name" "${args[@]}" --dry-run=client -o yaml | apply
}

kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns"

declare -A pw
for svc in registry identity procurement; do
  pw[$svc]=$(rand)
  secret "$svc-database" "url=postgresql+asyncpg://$svc:${pw[$svc]}@$db_host:5432/$svc"
done

if [ "$overlay" = dev ]; then
  # The in-cluster PostgreSQL creates the roles from these on its first start.
  secret postgres-credentials "postgres-password=$(rand)" \
    "registry-password=${pw[registry]}" "identity-password=${pw[identity]}" \
    "procurement-password=${pw[procurement]}"
else
  # CloudNativePG sets the managed roles' passwords from basic-auth Secrets.
  for svc in registry identity procurement; do
    kubectl -n "$ns" create secret generic "samen-pg-$svc" --type=kubernetes.io/basic-auth \
      --from-literal=username="$svc" --from-literal=password="${pw[$svc]}" \
      --dry-run=client -o yaml | apply
  done
  redis=$(rand)
  secret redis-credentials "password=$redis"
  secret gateway-redis "url=redis://:$redis@redis:6379/0"
fi

secret identity-keys "key-encryption-key=$(rand)" "secret=$(rand)"
# Fernet key (url-safe base64 of 32 random bytes) sealing the registry's webhook secrets.
secret registry-keys "webhook-secret-key=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
# procurement's key pair for private_key_jwt at identity: the private JWK for procurement,
# and its registration (public key only) for `python -m identity register-client`, kept
# next to it so the registration can be (re)applied later (deploy/README.md).
{ read -r private; read -r _jwks; read -r registration; } \
  < <(python3 "$(dirname "$0")/../make-client-key.py" samen-procurement)
secret procurement-client "private-key-jwk=$private" "client-registration=$registration"
echo "secrets for $overlay created in namespace $ns"
echo "register procurement's public key once identity runs (deploy/README.md, Deploy step 5):"
echo "$registration"
