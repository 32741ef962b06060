#!/usr/bin/env bash
# Creates the Secrets the manifests reference, with fresh random values, once:
#   deploy/k8s/create-secrets.sh dev|production [NAMESPACE]
# Create-only: a Secret that exists is kept as it is (never replaced), so running this
# again is safe and fills in only what is missing. Rotating a value is never done here:
# each secret has its own rotation path (deploy/README.md, "Rotate keys and passwords").
# Values exist only in the cluster and in this process; nothing is written to disk.
set -euo pipefail
overlay=${1:?usage: $0 dev|production [namespace]}
case "$overlay" in
  # Production: the services reach PostgreSQL through PgBouncer (the CloudNativePG Pooler).
  dev) ns=${2:-samen-dev} db_host=postgres ;;
  production) ns=${2:-samen} db_host=samen-pg-pooler-rw ;;
  *) echo "unknown overlay $overlay" >&2; exit 2 ;;
esac
# The portal's redirect URIs are under the overlay's public host, read from its one place
# (overlays/<overlay>/public-host.yaml): identity refuses any other redirect_uri. The scheme
# is the overlay's: TLS on the production Ingress, plain HTTP in dev.
host_file="$(dirname "$0")/overlays/$overlay/public-host.yaml"
host=$(sed -n 's/^  host: *//p' "$host_file" | tr -d "\"'" | tr -d '[:space:]')
[ -n "$host" ] || { echo "no host: in $host_file" >&2; exit 2; }
public_url=https://$host
[ "$overlay" = dev ] && public_url=http://$host

rand() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
exists() { kubectl -n "$ns" get secret "$1" >/dev/null 2>&1; }
# `kubectl create` (not apply): refuses to overwrite even if another run got there first.
create() { kubectl -n "$ns" create -f - >/dev/null; }
secret() { # name, then key=value pairs
  local name=$1
  shift
  if exists "$name"; then
    echo "kept    secret/$name (exists)"
    return
  fi
  local args=()
  for kv in "$@"; do args+=(--from-literal="$kv"); done
  kubectl -n "$ns" create secret generic "$name" "${args[@]}" --dry-run=client -o yaml | create
  echo "created secret/$name"
}
basic_auth() { # name, username, password (CloudNativePG role passwords)
  if exists "$1"; then
    echo "kept    secret/$1 (exists)"
    return
  fi
  kubectl -n "$ns" create secret generic "$1" --type=kubernetes.io/basic-auth \
    --from-literal=username="$2" --from-literal=password="$3" --dry-run=client -o yaml | create
  echo "created secret/$1"
}

kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns"

# A database password lives in two Secrets (the role's and the service's URL): both are
# created together, or neither is touched. One without the other needs a person.
for svc in registry identity procurement portal; do
  if [ "$overlay" = dev ]; then role_secret=postgres-credentials; else role_secret=samen-pg-$svc; fi
  if exists "$svc-database" && ! exists "$role_secret"; then
    if [ "$overlay" = production ]; then
      echo "secret/$svc-database exists but secret/$role_secret does not: create it with the password in that URL (deploy/README.md)" >&2
      exit 3
    fi
  fi
done

declare -A pw
for svc in registry identity procurement portal; do
  if exists "$svc-database"; then
    echo "kept    secret/$svc-database (exists)"
    [ "$overlay" = dev ] || echo "kept    secret/samen-pg-$svc (exists)"
    continue
  fi
  if [ "$overlay" = dev ] && exists postgres-credentials; then
    echo "secret/postgres-credentials exists but secret/$svc-database does not: create it with the password in postgres-credentials (deploy/README.md)" >&2
    exit 3
  fi
  if [ "$overlay" = production ] && exists "samen-pg-$svc"; then
    echo "secret/samen-pg-$svc exists but secret/$svc-database does not: create it from that password (deploy/README.md)" >&2
    exit 3
  fi
  pw[$svc]=$(rand)
  secret "$svc-database" "url=postgresql+asyncpg://$svc:${pw[$svc]}@$db_host:5432/$svc"
  if [ "$overlay" = production ]; then
    # CloudNativePG sets the managed role's password from this basic-auth Secret.
    basic_auth "samen-pg-$svc" "$svc" "${pw[$svc]}"
  fi
done

if [ "$overlay" = dev ]; then
  # The in-cluster PostgreSQL creates the roles from these on its first start.
  if ! exists postgres-credentials && [ ${#pw[@]} -lt 4 ]; then
    echo "secret/postgres-credentials is missing but some <service>-database Secrets exist: recreate those too (deploy/README.md)" >&2
    exit 3
  fi
  # Only reached with all four passwords new, or postgres-credentials kept as it is.
  secret postgres-credentials "postgres-password=$(rand)" \
    "registry-password=${pw[registry]:-}" "identity-password=${pw[identity]:-}" \
    "procurement-password=${pw[procurement]:-}" "portal-password=${pw[portal]:-}"
else
  if exists redis-credentials; then
    echo "kept    secret/redis-credentials (exists)"
    exists gateway-redis || { echo "secret/gateway-redis is missing: create it from redis-credentials' password (deploy/README.md)" >&2; exit 3; }
    echo "kept    secret/gateway-redis (exists)"
  else
    redis=$(rand)
    secret redis-credentials "password=$redis"
    secret gateway-redis "url=redis://:$redis@redis:6379/0"
  fi
fi

secret identity-keys "key-encryption-key=$(rand)" "secret=$(rand)"
# Fernet key (url-safe base64 of 32 random bytes) sealing the registry's webhook secrets.
secret registry-keys "webhook-secret-key=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
# procurement's key pair for private_key_jwt at identity: the private JWK for procurement,
# and its registration (public key only) for `python -m identity register-client`, kept
# next to it so the registration can be applied (deploy/README.md).
if exists procurement-client; then
  echo "kept    secret/procurement-client (exists)"
else
  { read -r private; read -r _jwks; read -r registration; } \
    < <(python3 "$(dirname "$0")/../make-client-key.py" samen-procurement)
  secret procurement-client "private-key-jwk=$private" "client-registration=$registration"
  echo "register procurement's public key once identity runs (deploy/README.md, Deploy step 6)"
fi
# The registry's and the gateway's key pairs: resource servers that read identity's
# revocation feed with private_key_jwt; registrations kept next to them, as procurement's.
for svc in registry gateway; do
  if exists "$svc-client"; then
    echo "kept    secret/$svc-client (exists)"
  else
    { read -r private; read -r _jwks; read -r registration; } \
      < <(python3 "$(dirname "$0")/../make-client-key.py" "samen-$svc")
    secret "$svc-client" "private-key-jwk=$private" "client-registration=$registration"
    echo "register samen-$svc's public key once identity runs (deploy/README.md, Deploy step 6)"
  fi
done
# The portal's two clients (log-in, and the public pages' reader), one key pair each; their
# registrations (public keys only) are kept next to them for register-client.
if exists portal-client; then
  echo "kept    secret/portal-client (exists)"
else
  { read -r private; read -r _jwks; read -r registration; } \
    < <(python3 "$(dirname "$0")/../make-client-key.py" samen-portal "$public_url")
  secret portal-client "private-key-jwk=$private" "client-registration=$registration"
  echo "register samen-portal's public key once identity runs (deploy/README.md)"
fi
if exists portal-reader-client; then
  echo "kept    secret/portal-reader-client (exists)"
else
  { read -r private; read -r _jwks; read -r registration; } \
    < <(python3 "$(dirname "$0")/../make-client-key.py" samen-portal-reader)
  secret portal-reader-client "private-key-jwk=$private" "client-registration=$registration"
  echo "register samen-portal-reader's public key once identity runs (deploy/README.md)"
fi
echo "secrets for $overlay in namespace $ns: done (existing ones kept)"
