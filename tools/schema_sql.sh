#!/usr/bin/env bash
# Print the SQLite DDL that creates a Prisma schema's tables from nothing:
#   tools/schema_sql.sh tests/engine/schema.prisma > schema.sql
# It is Prisma's own DDL: Prisma CLI 6.19.3 (root package.json alias `prisma-6`)
# `migrate diff --from-empty --to-schema-datamodel SCHEMA --script`, run offline on
# @prisma/schema-engine-wasm through tools/prisma6/prisma.config.ts (see that file and shared
# ARCHITECTURE.md, decision 3). No database is read or written. Needs ./node_modules (npm ci).
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 SCHEMA.prisma" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
schema="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
if [[ ! -f "$schema" ]]; then
  echo "error: no schema at $1" >&2
  exit 1
fi
cli="$root/node_modules/prisma-6/build/index.js"
if [[ ! -f "$cli" ]]; then
  echo "error: $cli not found; run 'make node_modules' (npm ci) first" >&2
  exit 1
fi

# The CLI reads the schema at start (before the command runs) to decide which engines it needs.
# It must find it (PRISMA6_SCHEMA -> the config's `schema`, absolute: relative paths there are
# resolved against the config's folder), the schema must validate, so an env("X") datasource url
# needs X set (any SQLite url: it is not opened), and the client engine type must be `client`;
# otherwise it tries to download libquery_engine, which fails offline.
export PRISMA6_SCHEMA="$schema"
export PRISMA_CLIENT_ENGINE_TYPE=client
export CHECKPOINT_DISABLE=1
export PRISMA_HIDE_UPDATE_MESSAGE=1
url_var="$(sed -n 's/^[[:space:]]*url[[:space:]]*=[[:space:]]*env("\([A-Za-z_][A-Za-z0-9_]*\)").*/\1/p' "$schema" | head -n1)"
if [[ -n "$url_var" && -z "${!url_var:-}" ]]; then
  export "$url_var=file:./schema-sql-placeholder.db"
fi

cd "$root"
# stdout is the script; the CLI's notes ("Loaded Prisma config ...") go to stderr.
out="$(node "$cli" migrate diff --config tools/prisma6/prisma.config.ts \
  --from-empty --to-schema-datamodel "$schema" --script)"
if [[ "$out" != *"CREATE TABLE"* ]]; then
  echo "error: prisma migrate diff printed no CREATE TABLE for $schema" >&2
  exit 1
fi
printf '%s\n' "$out"
