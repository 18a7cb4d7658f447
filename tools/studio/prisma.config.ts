// Prisma CLI 7.10.1 config for Prisma Studio only (run through ./run-studio, which passes
// --config with this file and the database as --url). Studio needs no schema and no engine: it
// reads the database's own catalog (SQLite: better-sqlite3 on Node < 22.5, see build-native.js).
// This file exists so the CLI never picks up another prisma.config.ts from the caller's directory.
// Prisma 7 does not load .env files by itself, and this config loads none.
import { defineConfig } from 'prisma/config'

export default defineConfig({})
