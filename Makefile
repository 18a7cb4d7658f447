# Garage developer tasks. On a fresh clone: `make generate-test-client` sets up everything it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
VENV_STAMP := $(VENV)/.garage-installed
# npm writes node_modules/.package-lock.json on every install: use it as the install stamp.
NODE_STAMP := node_modules/.package-lock.json
ENGINE_NODE_STAMP := engine/node_modules/.package-lock.json

.PHONY: help venv node_modules generate-test-client test typecheck test-engine-node test-python bench-engine clean

help:
	@echo "make venv                  create $(VENV) and install the project with dev dependencies"
	@echo "make node_modules          npm ci at the root (Prisma CLI 5.17.0 and 6.19.3) and in engine/"
	@echo "make generate-test-client  generate the engine tests' client (package engine_test_client)"
	@echo "                           and their tables' DDL (build/engine-test-client/schema.sql)"
	@echo "make test                  run every test suite (engine node tests, then pytest)"
	@echo "make bench-engine          engine benchmark: client vs raw HTTP vs sqlite3 (bench/engine_bench.py)"
	@echo "make clean                 remove build/"

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -c constraints.txt -e '.[dev]'
	touch $@

node_modules: $(NODE_STAMP) $(ENGINE_NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci

$(ENGINE_NODE_STAMP): engine/package.json engine/package-lock.json
	npm ci --prefix engine

# Always regenerates (about 2.5 s): never test against a client from an older schema.
generate-test-client: venv node_modules
	tools/generate_test_client.sh

test: typecheck test-engine-node test-python

typecheck: venv
	$(VENV)/bin/mypy

test-engine-node: node_modules
	cd engine && node --test --test-reporter=spec test/

test-python: generate-test-client
	$(VENV)/bin/pytest -q

bench-engine: generate-test-client
	$(VENV)/bin/python bench/engine_bench.py

clean:
	rm -rf build
