// The SQLite driver adapter that Prisma CLI 6.19.3 migrates through (engine: 'js', on
// @prisma/schema-engine-wasm): @prisma/adapter-libsql 6.19.3 plus the workarounds that early-access
// pairing needs. Each workaround is one function named for the gap it closes; docs/migrations.md
// explains them and tests/migrations/test_adapter_workarounds.py reproduces each gap without it.
// GARAGE_MIGRATE_ADAPTER_DISABLE=name,name turns workarounds off (those tests use it);
// GARAGE_MIGRATE_ADAPTER_TRACE=1 prints every call the schema engine makes to stderr.
import { PrismaLibSQL } from '@prisma/adapter-libsql'
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery, SqlResultSet } from '@prisma/driver-adapter-utils'

const disabled = new Set((process.env.GARAGE_MIGRATE_ADAPTER_DISABLE ?? '').split(',').map((s) => s.trim()))
const on = (name: string) => !disabled.has(name)
const trace = (...a: unknown[]) => process.env.GARAGE_MIGRATE_ADAPTER_TRACE && process.stderr.write(`[adapter] ${a.join(' ')}\n`)
const errorText = (e: any): string => `${e?.cause?.originalMessage ?? ''} ${e?.cause?.message ?? ''} ${e?.message ?? ''}`

// The migration connection's settings (main database only; the shadow database is in memory): WAL
// (what the service runs with; the mode is stored in the file), foreign keys enforced, wait up to
// 10 s for a busy database (a running service) instead of failing, full fsync on commit.
// One statement at a time: two of them return a row, which executeScript refuses.
export const SQLITE_SETTINGS = ['PRAGMA busy_timeout = 10000', 'PRAGMA journal_mode = WAL', 'PRAGMA foreign_keys = ON', 'PRAGMA synchronous = FULL']

// Gap 1 (`migrate status` / `migrate dev` on an empty database fail with "no such table:
// _prisma_migrations", or P1014 when the error is mapped): the wasm engine reads the migrations
// table before creating it and, unlike the native engine, treats "table missing" as an error.
// No table means no migration applied: answer with an empty history.
const MIGRATION_COLUMNS = ['id', 'checksum', 'finished_at', 'migration_name', 'logs', 'rolled_back_at', 'started_at', 'applied_steps_count']
async function missingMigrationsTableIsEmptyHistory(query: SqlQuery, run: () => Promise<SqlResultSet>): Promise<SqlResultSet> {
  try { return await run() } catch (e) {
    if (!on('missingMigrationsTableIsEmptyHistory') || !/^\s*SELECT[\s\S]*FROM\s+`_prisma_migrations`/i.test(query.sql) ||
      !errorText(e).includes('no such table: _prisma_migrations')) throw e
    trace('no _prisma_migrations table: empty history')
    return { columnNames: MIGRATION_COLUMNS, columnTypes: [7, 7, 10, 7, 7, 10, 10, 1], rows: [] } // Text, DateTime, Int64
  }
}

// Gap 2 (shadow database gets only the first statement of each migration, so `migrate dev` sees
// false drift or fails with P3006; `migrate diff --from-migrations` and `db execute` are cut short
// too): the engine sends whole scripts through executeRaw, and libSQL's execute() runs one
// statement. Send scripts of several statements through executeScript (executeMultiple) instead.
export function statementCount(sql: string): number {
  let n = 0, pending = false
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i], rest = sql.slice(i)
    if (rest.startsWith('--')) { const j = sql.indexOf('\n', i); i = j < 0 ? sql.length : j; continue }
    if (rest.startsWith('/*')) { const j = sql.indexOf('*/', i + 2); i = j < 0 ? sql.length : j + 1; continue }
    const close = ({ "'": "'", '"': '"', '`': '`', '[': ']' } as Record<string, string>)[c]
    if (close) { const j = sql.indexOf(close, i + 1); i = j < 0 ? sql.length : j; pending = true; continue }
    if (c === ';') { if (pending) n++; pending = false } else if (!/\s/.test(c)) pending = true
  }
  return n + (pending ? 1 : 0)
}
function multiStatementScriptsRunWhole(adapter: SqlDriverAdapter, query: SqlQuery): Promise<number> | undefined {
  if (!on('multiStatementScriptsRunWhole') || query.args.length > 0 || statementCount(query.sql) < 2) return undefined
  trace('executeRaw of a multi-statement script -> executeScript')
  return adapter.executeScript(query.sql).then(() => 0)
}

// Gap 3 (`migrate reset`, and `migrate dev` when it resets, only DELETE the rows of every table,
// then re-applying the first migration fails: "table ... already exists"): the wasm engine's
// reset is a truncate. Reset means an empty database: drop every table and view instead.
const RESET_SCRIPT = /^\s*PRAGMA defer_foreign_keys = 1;\s*(DELETE FROM [^;]+;?\s*)+$/
async function resetDropsEverything(adapter: SqlDriverAdapter, script: string): Promise<boolean> {
  if (!on('resetDropsEverything') || !RESET_SCRIPT.test(script)) return false
  const objects = await adapter.queryRaw({ sql: "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'", args: [], argTypes: [] })
  const drops = objects.rows.map(([type, name]) => `DROP ${type === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS "${String(name).replace(/"/g, '""')}";`)
  trace(`reset: dropping ${drops.length} tables and views`)
  await adapter.executeScript(`PRAGMA foreign_keys = OFF; ${drops.join(' ')} PRAGMA foreign_keys = ON;`)
  return true
}

// Gap 5 (`migrate reset` and `migrate dev` fail with P3005 "The database schema is not empty" once a
// table uses AUTOINCREMENT): SQLite then keeps its own table `sqlite_sequence`, which the wasm engine
// counts as a table of the schema when it lists sqlite_master (unlike the native engine), so the
// reset finds nothing of its own to clear and a "non-empty" schema it will not migrate. SQLite's own
// tables are not the schema: leave them out of those listings (dropping the AUTOINCREMENT tables
// also clears their sqlite_sequence rows).
const SCHEMA_LISTING = /^\s*SELECT\b[\s\S]*\bFROM\s+sqlite_master\b/i
function sqliteOwnTablesAreNotSchema(query: SqlQuery, result: SqlResultSet): SqlResultSet {
  if (!on('sqliteOwnTablesAreNotSchema') || !SCHEMA_LISTING.test(query.sql)) return result
  const name = result.columnNames.findIndex((column) => column === 'name' || column === 'table_name')
  if (name < 0) return result
  const rows = result.rows.filter((row) => !String(row[name]).startsWith('sqlite_'))
  if (rows.length !== result.rows.length) trace(`left SQLite's own tables out of a schema listing`)
  return { ...result, rows }
}

// Gap 4 (the CLI prints success, then stays alive ~60 s before exiting; seen with `db push` and
// `migrate dev`): the wasm engine starts a 60 s setTimeout while it applies changes and never
// clears it, and the CLI waits for Node's event loop to drain. Timers created from inside the wasm
// engine are unref'd: they still fire if the process is alive, but never hold it open.
function wasmEngineTimersDoNotHoldTheProcess(): void {
  const g = globalThis as any
  if (!on('wasmEngineTimersDoNotHoldTheProcess') || g.__garageWasmTimersUnref) return
  g.__garageWasmTimersUnref = true
  const original = g.setTimeout
  g.setTimeout = function (...args: unknown[]) {
    const timer = original.apply(this, args)
    if (new Error().stack?.includes('wasm://')) timer.unref?.()
    return timer
  }
}
wasmEngineTimersDoNotHoldTheProcess()

function wrap(adapter: SqlDriverAdapter): SqlDriverAdapter {
  return {
    provider: adapter.provider,
    adapterName: adapter.adapterName, // unchanged: the engine picks SQLite behaviour by this name
    queryRaw: async (q) => (trace('queryRaw', q.sql),
      sqliteOwnTablesAreNotSchema(q, await missingMigrationsTableIsEmptyHistory(q, () => adapter.queryRaw(q)))),
    executeRaw: async (q) => (trace('executeRaw', q.sql), (await multiStatementScriptsRunWhole(adapter, q)) ?? adapter.executeRaw(q)),
    executeScript: async (s) => { trace('executeScript', s); if (!(await resetDropsEverything(adapter, s))) await adapter.executeScript(s) },
    startTransaction: (level) => adapter.startTransaction(level),
    getConnectionInfo: adapter.getConnectionInfo && (() => adapter.getConnectionInfo!()),
    dispose: () => adapter.dispose(),
  }
}

// `url`: a libSQL URL, `file:/absolute/path.db` (prisma.config.ts makes relative paths absolute).
export function sqliteMigrateAdapter(url: string): SqlMigrationAwareDriverAdapterFactory {
  const base = new PrismaLibSQL({ url })
  return {
    provider: 'sqlite',
    adapterName: base.adapterName,
    connect: async () => {
      const adapter = await base.connect()
      for (const sql of on('sqliteSettings') ? SQLITE_SETTINGS : []) await adapter.queryRaw({ sql, args: [], argTypes: [] })
      return wrap(adapter)
    },
    connectToShadowDb: async () => wrap(await base.connectToShadowDb()),
  }
}
