# shellcheck shell=bash
# Environment for running `prisma generate` (prisma-client-py generator, Prisma CLI 5.17.0)
# offline from this repository's own files. Source it from the repo root or anywhere:
#   . tools/prisma-generate-env.sh
# See shared ARCHITECTURE.md, decision 3. Do not use it for migrate/db commands.
_garage_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The Prisma CLI comes from ./node_modules (package.json pins prisma 5.17.0; `npm ci`), not from
# prisma-client-py's own `npm install` into ~/.cache/prisma-python. The env var wins over
# pyproject's [tool.prisma] binary_cache_dir, so this also works outside the repo root.
export PRISMA_BINARY_CACHE_DIR="$_garage_root"
# Engines: Prisma's native binaries cannot be downloaded. With these set the CLI downloads nothing.
export PRISMA_QUERY_ENGINE_BINARY="${PRISMA_QUERY_ENGINE_BINARY:-$_garage_root/engine/bin/query-engine.js}"
export PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$_garage_root/tools/schema-engine-stub.js}"
export PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1
# No telemetry / update check requests (checkpoint.prisma.io).
export CHECKPOINT_DISABLE=1
export PRISMA_HIDE_UPDATE_MESSAGE=1
# Breaks the prisma-client-py generator (only meant for migrate/db commands).
unset PRISMA_CLIENT_ENGINE_TYPE
# The generator `provider = "prisma-client-py"` is a console script of the venv.
export PATH="$_garage_root/.venv/bin:$PATH"
unset _garage_root
