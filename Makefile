# kubetune developer entry points. The README names `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: setup controlplane lint generate-check test test-unit test-integration test-e2e demo cluster clean

setup: $(STAMP) controlplane

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[operator,api,runtime,dev]'
	rm -f $(VENV)/.installed-* && touch $@

# Compiled once per machine into ~/.cache/kubetune (keyed by version); a no-op when cached.
controlplane:
	hack/controlplane/build.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

generate-check: $(STAMP)
	$(BIN)/python -m kubetune.crd.generate --check

test: setup lint generate-check
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: setup
	$(BIN)/pytest tests/integration

test-e2e: setup
	$(BIN)/pytest tests/e2e

cluster: setup
	$(BIN)/kubetune dev cluster

demo: setup
	$(BIN)/kubetune dev demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
