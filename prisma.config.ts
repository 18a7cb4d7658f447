// Prisma CLI 6.19.3 configuration for schema and database commands (migrate, db, validate, format),
// offline on @prisma/schema-engine-wasm through a SQLite driver adapter. Run them through the
// project's `prisma` front door (tools/prisma; .venv/bin/prisma after `make venv`), which picks the
// CLI for each command and passes this file with --config. See docs/migrations.md.
import path from 'node:path'
import fs from 'node:fs'
import dotenv from 'dotenv'
import { defineConfig } from 'prisma-6/config'
import { sqliteMigrateAdapter } from './tools/prisma6/sqlite-migrate-adapter'

const root = __dirname

// With a config file Prisma loads no .env itself. Variables already set (CI, tests, production)
// win over .env, which holds development defaults only.
dotenv.config({ path: path.join(root, '.env'), quiet: true })

// One meaning for relative SQLite URLs: relative to the schema's folder (the repo root), as Prisma's
// and our query engine read them. (The adapter alone would resolve them against the current
// directory.) The absolute URL is also what the seed command inherits.
export function absoluteSqliteUrl(url: string, base: string): string {
  const m = /^file:(?!\/)(.*)$/.exec(url)
  return m ? `file:${path.resolve(base, m[1])}` : url
}
if (process.env.DATABASE_URL) process.env.DATABASE_URL = absoluteSqliteUrl(process.env.DATABASE_URL, root)

// `prisma db seed` (and the seed after `prisma migrate reset`) runs seed.py with the project's
// Python; GARAGE_SEED_COMMAND replaces it (the tests use a probe). The CLI splits the command on
// spaces (no shell, no quotes): a space inside a path is escaped with a backslash.
const arg = (s: string) => s.replace(/ /g, '\\ ')
const venvPython = path.join(root, '.venv/bin/python')
const python = fs.existsSync(venvPython) ? arg(venvPython) : 'python3'
const seed = process.env.GARAGE_SEED_COMMAND ?? `${python} ${arg(path.join(root, 'seed.py'))}`

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(root, 'schema.prisma'),
  // GARAGE_MIGRATIONS_DIR: another migrations folder (absolute), e.g. to try a migration in a
  // scratch copy; the tests use it. tools/prisma reads the same variable.
  migrations: { path: process.env.GARAGE_MIGRATIONS_DIR ?? path.join(root, 'prisma/migrations'), seed },
  adapter: async () => {
    const url = process.env.DATABASE_URL
    if (!url) throw new Error('DATABASE_URL is not set (see .env and docs/migrations.md)')
    return sqliteMigrateAdapter(url)
  },
})
