# The README's commands. Every target creates .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: demo test check lint typecheck unit bench synth clean softhsm gate-tools

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## demo: run the main job (scheduled backup verification) on the embedded sandbox,
## then restore a backup and check it key by key (SoftHSM2 stands in for the HSMs)
demo: $(STAMP) softhsm
	$(BIN)/hsmdr sandbox demo
	$(BIN)/hsmdr sandbox verify-keys

SOFTHSM_LIB := /usr/lib/softhsm/libsofthsm2.so
## softhsm: install SoftHSM2 with apt when running as root; otherwise say how
softhsm:
	@if [ -f $(SOFTHSM_LIB) ] && command -v softhsm2-util >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq softhsm2 >/dev/null; \
	else \
		echo "SoftHSM2 is missing. Install it with: sudo apt-get install -y softhsm2" >&2; \
		exit 1; \
	fi

## test: lint, type-check and run the whole test suite (static gates included), on
## two workers per core (pytest-xdist; PYTEST_WORKERS=N to choose, 0 for one process):
## the sandbox's workflows spend much of their time waiting on emulated AWS
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist worksteal
test: $(STAMP) lint typecheck gate-tools
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

## check: the inner loop: lint, type-check and the fast tests (make unit)
check: lint typecheck unit

## unit: the tests that synthesize nothing and run no sandbox (not marked slow;
## tests/conftest.py marks every test that asks for a synthesis or runs the sandbox)
FAST_TESTS := tests/lambdas tests/config tests/project tests/docs tests/permissions tests/emulator
unit: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal -m "not slow" $(FAST_TESTS)

## gate-tools: what the static gates of the tests run: asl-validator (npm ci, pinned in
## package-lock.json) and checkov, in its own virtualenv since it pins an older boto3
NODE_STAMP := node_modules/.installed
CHECKOV_VENV := $(VENV)/tools-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_REQUIREMENT := checkov==3.3.30
gate-tools: $(NODE_STAMP) $(CHECKOV_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(CHECKOV_STAMP): Makefile
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "$(CHECKOV_REQUIREMENT)"
	touch $(CHECKOV_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

## bench: every benchmark (bench/run.py ENTRIES), printed as JSON; BENCH="name ..." runs
## only those (e.g. make bench BENCH=posture_rto_realistic)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH)

## synth: validate the config and synthesize the CDK app into cdk.out (CONFIG=path)
CONFIG ?= config/example.yaml
synth: $(STAMP)
	CDK_CONTEXT_JSON='{"config": "$(CONFIG)"}' CDK_OUTDIR=cdk.out $(BIN)/python app.py
	@echo "Synthesized cdk.out/ from $(CONFIG)"

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
