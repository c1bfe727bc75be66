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

.PHONY: setup system image demo test test-scale lint typecheck unit infra synth bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Debian packages the browser and container tests need; installed when root, else named.
SYSTEM_PACKAGES := chromium fonts-dejavu-core podman buildah runc debootstrap
system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "not installed: $$missing (the browser and container tests will skip)"; fi

## The worker image of these sources, localhost/filepipe-worker:<sources digest> (batch_image/sources.py):
## one per checkout, built unless it exists; `filepipe up` runs the one matching its sources.
image:
	@if command -v podman >/dev/null 2>&1 || command -v docker >/dev/null 2>&1; then \
		./batch_image/build-local-image.sh; \
	else echo "no podman or docker: the container tests will skip"; fi

## The main job: the pipeline on sample files.
demo: setup
	$(BIN)/filepipe demo

## Everything CI runs: lint, types, unit, infrastructure, local-cloud, browser and container tests.
test: setup system image lint typecheck
	$(BIN)/pytest -m "not scale"

## Thousands of objects through the local cloud (about 20 minutes); CI runs it after `make test`.
test-scale: setup
	$(BIN)/pytest -m scale -s

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
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/worker_memory.py

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
