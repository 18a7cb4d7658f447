# Garage developer tasks. On a fresh clone: `make generate-test-client` sets up everything it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
VENV_STAMP := $(VENV)/.garage-installed
# npm writes node_modules/.package-lock.json on every install: use it as the install stamp.
NODE_STAMP := node_modules/.package-lock.json
ENGINE_NODE_STAMP := engine/node_modules/.package-lock.json
CLIENT_NODE_STAMP := clients/typescript/node_modules/.package-lock.json
# Prisma Studio 7.10.1 in its own folder; better-sqlite3 is compiled from its npm sources (tools/studio/README.md).
STUDIO_STAMP := tools/studio/node_modules/better-sqlite3/build/Release/better_sqlite3.node

.PHONY: help run venv node_modules chromium studio generate generate-test-client migrate db-reset openapi test typecheck lint-python lint-engine lint-client test-engine-node test-python test-repository-coverage bench-engine bench-db-init bench-data-layer bench-http bench-http-peer bench-startup bench-bulk bench-scaling bench-events bench clean

help:
	@echo "make run                   install, check the database file (garage check), migrate (prisma migrate deploy), seed, serve (PORT, DATABASE_URL, GARAGE_ADMIN_API_KEY)"
	@echo "make venv                  create $(VENV) and install the project with dev dependencies"
	@echo "make node_modules          npm ci at the root (Prisma CLI 5.17.0 and 6.19.3, swagger-ui-dist for /docs) and in engine/"
	@echo "make chromium              apt-get install Debian's chromium (root) unless /usr/bin/chromium exists: the /docs browser test"
	@echo "make generate              generate the product client (prisma generate: schema.prisma -> the 'prisma' package)"
	@echo "make migrate               apply pending migrations to DATABASE_URL (prisma migrate deploy; .env by default)"
	@echo "make db-reset              DEVELOPMENT ONLY: drop everything in DATABASE_URL, re-apply all migrations, seed"
	@echo "make openapi               write docs/openapi.json: the OpenAPI document /openapi.json serves (commit it)"
	@echo "make generate-test-client  generate the engine tests' client (package engine_test_client)"
	@echo "                           and their tables' DDL (build/engine-test-client/schema.sql)"
	@echo "make test                  run every test suite (engine node tests, then pytest)"
	@echo "make lint-client           clients/typescript: ESLint and the strict type check (its node tests run in pytest)"
	@echo "make bench-engine          engine benchmark: client vs raw HTTP vs sqlite3 (bench/engine_bench.py)"
	@echo "make bench-db-init         database initialisation: engine start + migrate deploy (bench/db_init_bench.py)"
	@echo "make bench-data-layer      data layer: garage vs SQLAlchemy+aiosqlite vs sqlite3 (bench/data_layer_bench.py)"
	@echo "make bench-http            HTTP load: garage serve, 1/2 workers, 1/8/32 clients (bench/http_load.py)"
	@echo "make bench-http-peer       HTTP peer: garage vs Starlette+SQLAlchemy+aiosqlite, same endpoints and load (bench/http_peer_bench.py)"
	@echo "make bench-startup         start-up: db init + garage serve until ready (bench/startup_bench.py)"
	@echo "make bench-bulk            bulk: 5000 spots, legacy import 10k/100k, archive 100k (bench/bulk_bench.py)"
	@echo "make bench-scaling         hot queries at 10k/100k/1M sessions + EXPLAIN QUERY PLAN (bench/scaling_bench.py)"
	@echo "make bench-events          event stream latency, 100 streams' CPU/RSS, event log cost per check-in (bench/events_bench.py)"
	@echo "make bench                 every benchmark above, one after the other (bench/README.md)"
	@echo "make clean                 remove build/"

# $(VENV)/bin/prisma is the project's front door (tools/prisma), not prisma-client-py's console
# script: `prisma generate` still reaches prisma-client-py, migrate/db commands Prisma CLI 6.19.3
# (docs/migrations.md). Rewritten whenever pip has put its own script back.
venv: $(VENV_STAMP)
	@grep -q 'garage prisma front door' $(VENV)/bin/prisma 2>/dev/null || { \
	  printf '#!/usr/bin/env bash\n# garage prisma front door, installed by make venv (see tools/prisma)\nexec "%s/tools/prisma" "$$@"\n' "$(CURDIR)" > $(VENV)/bin/prisma && \
	  chmod +x $(VENV)/bin/prisma && echo "installed $(VENV)/bin/prisma -> tools/prisma"; }

$(VENV_STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -c constraints.txt -e '.[dev]'
	touch $@

node_modules: $(NODE_STAMP) $(ENGINE_NODE_STAMP) $(CLIENT_NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci

$(ENGINE_NODE_STAMP): engine/package.json engine/package-lock.json
	npm ci --prefix engine

$(CLIENT_NODE_STAMP): clients/typescript/package.json clients/typescript/package-lock.json
	npm ci --prefix clients/typescript

# Debian's chromium for tests/api/test_docs_page.py: Playwright drives it and never downloads a browser of
# its own (no `playwright install`). Needs root; runs only when chromium is missing (lists refreshed first:
# stale ones name versions the mirror no longer has).
chromium: /usr/bin/chromium

/usr/bin/chromium:
	@test "$$(id -u)" = 0 || { echo "chromium is missing and apt-get needs root: sudo apt-get install -y --no-install-recommends chromium"; exit 1; }
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

studio: $(STUDIO_STAMP)

# npm ci removes the compiled addon, so both steps always run together.
$(STUDIO_STAMP): tools/studio/package.json tools/studio/package-lock.json
	npm ci --prefix tools/studio
	npm run --prefix tools/studio build-native

# The service on DATABASE_URL (.env: file:./dev.db): the file checked (`garage check`: a damaged file
# stops here with how to restore it, before Prisma's bare "Error code 26"), migrations applied,
# seed (idempotent), served.
run: venv node_modules generate
	$(VENV)/bin/garage check
	$(VENV)/bin/prisma migrate deploy
	$(VENV)/bin/prisma db seed
	$(VENV)/bin/garage serve

# The product client (`from prisma import Prisma`), from schema.prisma. Always regenerates (~2.5 s).
generate: venv node_modules
	$(VENV)/bin/prisma generate

# Database commands on DATABASE_URL (from the environment, else .env: file:./dev.db).
migrate: venv node_modules
	$(VENV)/bin/prisma migrate deploy

db-reset: venv node_modules
	$(VENV)/bin/prisma migrate reset --force $(if $(wildcard seed.py),,--skip-seed)

# docs/openapi.json, the committed OpenAPI document: what /openapi.json serves, built without a server
# (garage/routes/openapi.py). tests/api/test_openapi_document.py fails while the two differ.
openapi: venv
	$(VENV)/bin/python -m garage.routes.openapi docs/openapi.json

# Always regenerates (about 2.5 s): never test against a client from an older schema.
generate-test-client: venv node_modules
	tools/generate_test_client.sh

test: lint-python typecheck lint-engine lint-client test-engine-node test-python

# Python outside tests/ ([tool.ruff] in pyproject.toml: the rules and why): lint, then layout (well under a second),
# then the architecture's import contracts ([tool.importlinter]: the layers, only the data layer imports prisma).
lint-python: venv
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/lint-imports --no-cache

# src/garage and seed.py strict ([tool.mypy] files), then tests/ and bench/ under the same rules (pyproject.toml says why);
# the engine tests and engine_bench import their generated client (build/engine-test-client).
typecheck: generate generate-test-client
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy tests bench

# engine/: ESLint (engine/eslint.config.js) and the JSDoc type check (tsc, engine/tsconfig.json).
lint-engine: node_modules
	npm run --prefix engine --silent lint
	npm run --prefix engine --silent typecheck

# clients/typescript (@garage/client): ESLint (its eslint.config.js) and the strict type check. Its node tests
# need a live service: tests/api/test_typescript_client.py starts one and runs them, so test-python has them.
lint-client: $(CLIENT_NODE_STAMP)
	npm run --prefix clients/typescript --silent lint
	npm run --prefix clients/typescript --silent typecheck

test-engine-node: node_modules
	cd engine && node --test --test-reporter=spec test/

test-python: generate-test-client generate studio chromium
	$(VENV)/bin/pytest -q
	$(MAKE) --no-print-directory test-repository-coverage

# The PRD's bar: the repository tests alone cover every line of src/garage/repositories.
test-repository-coverage: generate
	$(VENV)/bin/pytest -q tests/repositories --cov=garage.repositories --cov-report=term-missing --cov-fail-under=100

bench-engine: generate-test-client
	$(VENV)/bin/python bench/engine_bench.py

bench-db-init: generate
	$(VENV)/bin/python bench/db_init_bench.py

# BENCH_ARGS passes options through, e.g. make bench-data-layer BENCH_ARGS="--quick --json out.json"
bench-data-layer: generate
	$(VENV)/bin/python bench/data_layer_bench.py $(BENCH_ARGS)

bench-http: generate
	$(VENV)/bin/python bench/http_load.py $(BENCH_ARGS)

bench-http-peer: generate
	$(VENV)/bin/python bench/http_peer_bench.py $(BENCH_ARGS)

bench-startup: generate
	$(VENV)/bin/python bench/startup_bench.py $(BENCH_ARGS)

bench-bulk: generate
	$(VENV)/bin/python bench/bulk_bench.py $(BENCH_ARGS)

bench-scaling: generate
	$(VENV)/bin/python bench/scaling_bench.py $(BENCH_ARGS)

bench-events: generate
	$(VENV)/bin/python bench/events_bench.py $(BENCH_ARGS)

# Sequentially: benchmarks running side by side would measure each other.
bench: bench-engine bench-db-init bench-startup bench-data-layer bench-bulk bench-http bench-http-peer bench-scaling bench-events

clean:
	rm -rf build
