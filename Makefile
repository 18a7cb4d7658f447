# Garage developer tasks. On a fresh clone: `make generate-test-client` sets up everything it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
VENV_STAMP := $(VENV)/.garage-installed
# npm writes node_modules/.package-lock.json on every install: use it as the install stamp.
NODE_STAMP := node_modules/.package-lock.json
ENGINE_NODE_STAMP := engine/node_modules/.package-lock.json

.PHONY: help venv node_modules generate-test-client clean

help:
	@echo "make venv                  create $(VENV) and install the project with dev dependencies"
	@echo "make node_modules          npm ci at the root (Prisma CLI 5.17.0) and in engine/"
	@echo "make generate-test-client  generate the engine tests' client (package engine_test_client)"
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

# Always regenerates (about 1.5 s): never test against a client from an older schema.
generate-test-client: venv node_modules
	tools/generate_test_client.sh

clean:
	rm -rf build
