// Prisma CLI 6.19.3 (root package.json alias `prisma-6`) configured to run offline on
// @prisma/schema-engine-wasm: `engine: 'js'` + `experimental.adapter` + a SQLite driver adapter
// (@prisma/adapter-libsql, whose @libsql/client ships a prebuilt native library, so nothing is
// built or downloaded at install time). See shared ARCHITECTURE.md, decision 3.
//
// Used by tools/schema_sql.sh for `migrate diff --from-empty --to-schema-datamodel X --script`,
// which only computes SQL: the adapter's database is never written. It is an in-memory database
// unless PRISMA6_ADAPTER_URL names another.
import { defineConfig } from 'prisma-6/config'
import { PrismaLibSQL } from '@prisma/adapter-libsql'

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  // The CLI reads the schema at start to pick engines; without one it tries to download libquery_engine.
  ...(process.env.PRISMA6_SCHEMA ? { schema: process.env.PRISMA6_SCHEMA } : {}),
  adapter: async () => new PrismaLibSQL({ url: process.env.PRISMA6_ADAPTER_URL ?? ':memory:' }),
})
