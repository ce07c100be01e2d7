# alertloop — every workflow goes through here. `make run` and `make test` set themselves up.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# Test files run in parallel (pytest-xdist, one file per worker at a time so module fixtures are
# built once): most of the suite waits on emulators and servers, not on the CPU. 0 = serial.
PYTEST_JOBS ?= 4
XDIST = $(if $(filter 0,$(PYTEST_JOBS)),,-n $(PYTEST_JOBS) --dist loadfile)

.PHONY: help setup system-deps browser-deps run demo test test-fast test-unit check lint fmt typecheck bundle bench bench-console bench-diagnosis tf-fmt tf-check registry clean

help:
	@echo "make run        start the whole loop locally and fire the three example paths"
	@echo "                (make run SCENARIO=dump.yaml: against your own cluster's dump)"
	@echo "make demo       the same, exit 0 once all six paths reached Slack"
	@echo "make test       lint, type-check and run the whole test suite"
	@echo "make test-fast  the inner loop: unit tests and the fast integration tests (no e2e stack,"
	@echo "                no Prometheus, no browser; the safety property with fewer examples)"
	@echo "make test-unit  only the unit tests (no servers)"
	@echo "make bundle     build/bundle.zip for deployment"
	@echo "make registry   rewrite docs/configuration.md's env tables and terraform/locals.tf from shared/envvars.py"
	@echo "make bench      ingest vs a bare function, storms, the stack; then bench-console"
	@echo "make bench-console  console pages and /metrics with 10,000 runs in the ledger"
	@echo "make bench-diagnosis  labelled incidents through investigate: how often the cause is named"

# pip's own chatter goes to .venv/setup.log (shown only if the install fails): the first screen
# of `make run` / `make test` stays readable.
$(STAMP): pyproject.toml requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	@echo "setting up $(VENV) (pip install -e '.[dev]'; log: $(VENV)/setup.log)…"
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[dev]'; } \
	  > $(VENV)/setup.log 2>&1 || { tail -40 $(VENV)/setup.log; exit 1; }
	@touch $@

setup: $(STAMP) system-deps

# Prometheus and Alertmanager come from Debian; the emulators come with the Google Cloud SDK.
system-deps:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
	    || ! command -v amtool >/dev/null \
	    || ! { command -v prometheus-alertmanager || command -v alertmanager; } >/dev/null; then \
	  echo "installing prometheus and prometheus-alertmanager (apt-get)…"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager >/dev/null; \
	fi
	@command -v java >/dev/null || { echo "the emulators need Java 17+ (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v gcloud >/dev/null || { echo "need the Google Cloud SDK with the pubsub and firestore emulators"; exit 1; }

# The console's browser tests drive Debian's Chromium headless (DevTools protocol, no npm).
browser-deps:
	@if ! command -v chromium >/dev/null; then \
	  echo "installing chromium (apt-get) for the console's browser tests…"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium >/dev/null; \
	fi

# make run SCENARIO=dump.yaml: serve your own cluster's `kubectl get … -A -o yaml` dump instead
# of the demo cluster (LOGS=dump.logs.yaml for pod logs; default: <dump>.logs.yaml beside it).
run: setup
	$(BIN)/python -m sandbox.run $(if $(SCENARIO),--scenario-file "$(SCENARIO)") $(if $(LOGS),--logs-file "$(LOGS)")

demo: setup
	$(BIN)/python -m sandbox.run --demo

check: lint typecheck

lint: $(STAMP)
	@$(BIN)/ruff check -q shared functions sandbox tests bench scripts main.py
	@$(BIN)/ruff format --check -q shared functions sandbox tests bench scripts main.py
	@$(BIN)/python scripts/sync_registry.py --check

fmt: $(STAMP)
	$(BIN)/ruff format shared functions sandbox tests bench scripts main.py
	$(BIN)/ruff check --fix shared functions sandbox tests bench scripts main.py

typecheck: $(STAMP)
	$(BIN)/mypy shared functions

# Everything, every example; the ten slowest tests are listed at the end.
test: setup browser-deps check tf-check
	$(BIN)/pytest -q $(XDIST) --durations=10 $(PYTEST_ARGS)

# The inner loop (CONTRIBUTING.md): the emulators but no functions-framework stack, no Prometheus
# or Chromium; the safety property searches 200 examples instead of 2,000 (same assertions).
FAST_MARKERS := not e2e and not prometheus and not browser
test-fast: $(STAMP)
	ALERTLOOP_PROPERTY_EXAMPLES=$${ALERTLOOP_PROPERTY_EXAMPLES:-200} \
	  $(BIN)/pytest -q $(XDIST) --durations=10 -m "$(FAST_MARKERS)" tests/unit tests/integration $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

# After adding a Var to shared/envvars.py (or a function to shared/registry.py).
registry: $(STAMP)
	$(BIN)/python scripts/sync_registry.py

bundle: $(STAMP)
	$(BIN)/python scripts/make_bundle.py build

bench: setup
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python -m bench.bench_console

bench-console: setup
	$(BIN)/python -m bench.bench_console

bench-diagnosis: setup
	$(BIN)/python -m bench.bench_diagnosis

tf-fmt:
	terraform fmt -recursive terraform

# terraform/ against the google provider's real schema (read offline from the prebuilt CDKTF
# bindings' jsii assembly; scripts/tf_schema_check.py caches it), then checkov (its own venv:
# ~290 MB of dependencies kept out of .[dev]). Skipped checks are justified inline.
TF_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/alertloop
CHECKOV_VERSION := 3.3.30
tf-check: $(STAMP)
	@$(BIN)/python scripts/tf_schema_check.py
	@test -x $(TF_CACHE)/checkov-$(CHECKOV_VERSION)/bin/checkov || { \
	  echo "installing checkov $(CHECKOV_VERSION) into $(TF_CACHE) (once)…"; \
	  $(PYTHON) -m venv $(TF_CACHE)/checkov-$(CHECKOV_VERSION) && \
	  $(TF_CACHE)/checkov-$(CHECKOV_VERSION)/bin/pip install --quiet checkov==$(CHECKOV_VERSION); }
	@$(TF_CACHE)/checkov-$(CHECKOV_VERSION)/bin/checkov -d terraform --framework terraform \
	  --quiet --compact --skip-download

clean:
	rm -rf build .stack .pytest_cache .ruff_cache .mypy_cache test-artifacts
