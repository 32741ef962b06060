#!/usr/bin/env bash
# Prints a .env for docker-compose.yml with fresh random secrets:
#   deploy/compose/make-env.sh > .env      (.env is git-ignored; keep it that way)
# Hex only, so the values can sit inside database URLs without escaping.
set -euo pipefail
secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
for name in SAMEN_POSTGRES_PASSWORD SAMEN_REGISTRY_DB_PASSWORD SAMEN_IDENTITY_DB_PASSWORD \
  SAMEN_PROCUREMENT_DB_PASSWORD SAMEN_PORTAL_DB_PASSWORD SAMEN_IDENTITY_KEY_ENCRYPTION_KEY \
  SAMEN_IDENTITY_SECRET; do
  printf '%s=%s\n' "$name" "$(secret)"
done
# A Fernet key (url-safe base64 of 32 random bytes) for the registry's webhook secrets.
printf 'SAMEN_REGISTRY_WEBHOOK_SECRET_KEY=%s\n' \
  "$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
# procurement authenticates at identity with private_key_jwt (identity accepts no client
# secrets in production): its private JWK, and the registration with the public key that
# the identity-clients one-shot hands to `python -m identity register-client`.
# JSON, so single-quoted (compose takes single-quoted values literally).
{ read -r private; read -r _jwks; read -r registration; } \
  < <(python3 "$(dirname "$0")/../make-client-key.py" samen-procurement)
printf "SAMEN_PROCUREMENT_CLIENT_PRIVATE_KEY_JWK='%s'\n" "$private"
printf "SAMEN_PROCUREMENT_CLIENT_REGISTRATION='%s'\n" "$registration"
# The registry and the gateway verify tokens as well: each reads identity's revocation feed
# with its own private_key_jwt client (registry-client and gateway-client one-shots).
{ read -r private; read -r _jwks; read -r registration; } \
  < <(python3 "$(dirname "$0")/../make-client-key.py" samen-registry)
printf "SAMEN_REGISTRY_CLIENT_PRIVATE_KEY_JWK='%s'\n" "$private"
printf "SAMEN_REGISTRY_CLIENT_REGISTRATION='%s'\n" "$registration"
{ read -r private; read -r _jwks; read -r registration; } \
  < <(python3 "$(dirname "$0")/../make-client-key.py" samen-gateway)
printf "SAMEN_GATEWAY_CLIENT_PRIVATE_KEY_JWK='%s'\n" "$private"
printf "SAMEN_GATEWAY_CLIENT_REGISTRATION='%s'\n" "$registration"
# The portal: its log-in client and its public pages' reader, each with its own key
# (registered by the portal-client and portal-reader-client one-shots).
{ read -r private; read -r _jwks; read -r registration; } \
  < <(python3 "$(dirname "$0")/../make-client-key.py" samen-portal http://127.0.0.1:8000)
printf "SAMEN_PORTAL_CLIENT_PRIVATE_KEY_JWK='%s'\n" "$private"
printf "SAMEN_PORTAL_CLIENT_REGISTRATION='%s'\n" "$registration"
{ read -r private; read -r _jwks; read -r registration; } \
  < <(python3 "$(dirname "$0")/../make-client-key.py" samen-portal-reader)
printf "SAMEN_PORTAL_READER_PRIVATE_KEY_JWK='%s'\n" "$private"
printf "SAMEN_PORTAL_READER_REGISTRATION='%s'\n" "$registration"
