# Every target sets up what it needs: a virtualenv in .venv and the Node tools in node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
# jsii warns loudly on Node 20; the warning is harmless here (shared/notes/toolchain.md).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: setup system demo test lint typecheck unit infra synth bench clean

setup: $(VENV)/.installed node_modules/.installed

## Debian packages the browser test needs (Chromium for Playwright); installed when root.
SYSTEM_PACKAGES := chromium fonts-dejavu-core
system:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	else echo "install $(SYSTEM_PACKAGES) (Debian/Ubuntu: sudo apt-get install $(SYSTEM_PACKAGES)) for the browser test"; fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The main job: the pipeline on sample files.
demo: setup
	$(BIN)/filepipe demo

## Everything CI runs: lint, types, unit, infrastructure and local-cloud tests.
test: setup system lint typecheck
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy filepipe stack state_machine trigger_lambda transform_lambda moves_lambda batch_image upload_api app.py

synth: setup
	npx cdk synth --no-notices --quiet

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/worker_memory.py

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
