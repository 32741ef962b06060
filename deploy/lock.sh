#!/usr/bin/env bash
# Regenerate the per-package runtime locks the Dockerfiles install from.
# Run after `uv lock` whenever a package's dependencies change; tests/deploy fails when a
# committed lock no longer matches uv.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
export_lock() {
  # --no-editable: workspace members appear as plain paths (./libs/servicekit), which the
  # Dockerfile installs from source; everything else is pinned with hashes.
  uv export --frozen --package "$1" --no-dev --no-editable --format requirements-txt \
    --no-header --quiet -o "$2"
}
export_lock samen-registry services/registry/requirements.lock
export_lock samen-identity services/identity/requirements.lock
export_lock samen-procurement services/procurement/requirements.lock
export_lock samen-gateway gateway/requirements.lock
export_lock samen-portal portal/requirements.lock
echo "per-package locks regenerated"
