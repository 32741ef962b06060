#!/usr/bin/env bash
# Prints a .env for docker-compose.yml with fresh random secrets:
#   deploy/compose/make-env.sh > .env      (.env is git-ignored; keep it that way)
# Hex only, so the values can sit inside database URLs without escaping.
set -euo pipefail
secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
for name in SAMEN_POSTGRES_PASSWORD SAMEN_REGISTRY_DB_PASSWORD SAMEN_IDENTITY_DB_PASSWORD \
  SAMEN_PROCUREMENT_DB_PASSWORD SAMEN_IDENTITY_KEY_ENCRYPTION_KEY SAMEN_IDENTITY_SECRET \
  SAMEN_PROCUREMENT_CLIENT_SECRET; do
  printf '%s=%s\n' "$name" "$(secret)"
done
