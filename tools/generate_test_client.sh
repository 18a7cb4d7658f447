#!/usr/bin/env bash
# Generate the Prisma Client Python package used by the engine tests, from
# tests/engine/schema.prisma into build/engine-test-client/engine_test_client (gitignored),
# and the DDL that creates its tables, build/engine-test-client/schema.sql (tools/schema_sql.sh:
# Prisma's own `migrate diff --from-empty` script; the tests run it on each fresh database).
# Tests import it as `engine_test_client` (tests/engine/conftest.py puts
# build/engine-test-client on sys.path). It never touches the installed `prisma` package.
# Needs: .venv (make venv) and ./node_modules (make node_modules).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

schema=tests/engine/schema.prisma
out_root=build/engine-test-client
package=engine_test_client

if [[ ! -x .venv/bin/prisma ]]; then
  echo "error: .venv/bin/prisma not found; run 'make venv' first" >&2
  exit 1
fi
if [[ ! -f node_modules/prisma/build/index.js ]]; then
  echo "error: node_modules/prisma not found; run 'make node_modules' (npm ci) first" >&2
  exit 1
fi

# shellcheck source=tools/prisma-generate-env.sh
. tools/prisma-generate-env.sh

# Start clean so no file from an earlier generation survives.
rm -rf "${out_root:?}/$package" "$out_root/.schema.sha256" "$out_root/schema.sql"
mkdir -p "$out_root"
.venv/bin/prisma generate --schema "$schema"
tools/schema_sql.sh "$schema" > "$out_root/schema.sql.tmp"
mv "$out_root/schema.sql.tmp" "$out_root/schema.sql"
# Lets tests/engine/conftest.py detect a client generated from an older schema.
sha256sum "$schema" | cut -d' ' -f1 > "$out_root/.schema.sha256"
