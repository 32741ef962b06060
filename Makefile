# Samen: `make run` starts the platform, `make test` runs the whole suite.
# Both install what is missing first: uv (with pip, into .uv/ when not on PATH),
# then .venv from requirements.lock (again only when the lock changed).

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.uv/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PYTEST_ARGS ?=
SPECTRAL := npx --yes @stoplight/spectral-cli@6.15.0
ADR_RULESET := standards/adr-ruleset.yaml

.PHONY: run test install lint format lock adr-lint deploy-check images images-push release-pin bench bench-smoke fuzz soak clean

install: $(STAMP)

$(CURDIR)/.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv

$(STAMP): requirements.lock | $(UV)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	@touch $(STAMP)

run: install
	$(PY) scripts/run.py

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs/servicekit/src services/registry/src services/identity/src services/procurement/src gateway/src portal/src

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock: | $(UV)
	$(PYTHON) scripts/seed_uv_lock.py $(UV)
	$(UV) lock
	$(UV) export --all-packages --format requirements-txt --no-header --quiet -o requirements.lock
	PATH="$(dir $(UV)):$$PATH" bash deploy/lock.sh

# Every service's OpenAPI document against the Dutch API Design Rules linter (0 errors).
adr-lint: install
	@mkdir -p .data/openapi
	$(PY) scripts/dump_openapi.py .data/openapi
	@for f in .data/openapi/*.json; do echo "ADR lint: $$f"; \
	  $(SPECTRAL) lint --quiet --fail-severity=error -r $(ADR_RULESET) "$$f" || exit 1; done

deploy-check: install
	bash deploy/check.sh

# Images of every part, tagged with its package's version (deploy/README.md, "Images and
# releases"); REGISTRY is where they are pushed and what the production overlay names.
REGISTRY ?= registry.example.org/samen
images: install
	$(PY) deploy/images.py build --registry $(REGISTRY)

images-push: install
	$(PY) deploy/images.py push --registry $(REGISTRY)

# The pushed images' digests into overlays/production (commit it as the release).
release-pin: install
	$(PY) deploy/images.py pin --registry $(REGISTRY)

bench: install
	$(PY) bench/run_all.py

fuzz: install
	$(PY) -m pytest tests/contract -m "not smoke" --hypothesis-profile=nightly

# Mixed traffic through the gateway on 127.0.0.1 for SOAK_SECONDS (default 180) at 16
# connections; figures in bench/results/soak.md.
SOAK_SECONDS ?= 180
soak: install
	$(PY) bench/soak/run.py --seconds $(SOAK_SECONDS)

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
