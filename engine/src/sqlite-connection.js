import Database from 'libsql';

/**
 * @typedef {import('@libsql/client').InStatement} InStatement
 * @typedef {{ statement: any, reader: boolean, columns: string[], columnTypes: string[] }} CachedStatement
 * @typedef {{ deadline: number, gaveUp: boolean }} WaitScope  gaveUp: a statement was refused for good with SQLITE_BUSY
 */

/**
 * What `@libsql/client`'s ResultSet carries and `@prisma/adapter-libsql` reads; not its `toJSON()`,
 * which nothing here calls.
 * @typedef {object} ResultSet
 * @property {string[]} columns
 * @property {string[]} columnTypes
 * @property {unknown[][]} rows            arrays (raw mode), not the client's Row objects
 * @property {number} rowsAffected
 * @property {bigint | undefined} lastInsertRowid
 */

// Prepared statements kept per connection. Prisma's SQL is parameterised, so a service has a few
// hundred distinct statement texts at most; the bound keeps odd workloads (raw queries) in check.
const STATEMENT_CACHE_SIZE = 500;
const MIN_INTEGER = -9223372036854775808n;
const MAX_INTEGER = 9223372036854775807n;

/**
 * @typedef {object} ConnectionOptions
 * @property {string} path          absolute path of the SQLite file
 * @property {'writer' | 'reader'} role
 * @property {number} busyTimeoutMs how long a statement waits for another process's lock
 * @property {string} synchronous   PRAGMA synchronous for the writer (FULL keeps every commit on disk)
 */

/**
 * One SQLite connection with the settings Garage relies on, shaped like the subset of
 * `@libsql/client`'s Client that `@prisma/adapter-libsql` uses (`execute` -> a ResultSet).
 *
 * It drives `libsql` (the native binding under `@libsql/client`) itself, for speed: the client
 * prepares every statement again on every call, asks for its columns twice, and builds each row
 * with one Object.defineProperty per value. Here a statement is prepared once per connection and
 * reused (in raw mode: rows are arrays, which is all the adapter reads), with the client's value
 * conversions (intMode "bigint": integers as BigInt, blobs as ArrayBuffer, booleans as 1n/0n)
 * and its errors (SQLite's message, its extended code as `rawCode`).
 *
 * Why not hand the adapter a plain libsql Client: its `transaction()` gives the current
 * connection to the transaction and silently opens a fresh one for later statements, which
 * loses per-connection PRAGMAs (foreign_keys, busy_timeout) and re-reads the schema on every
 * transaction. The adapter already serialises all use of its client behind a mutex while a
 * transaction is open, so running the transaction on this same connection is safe.
 *
 * Writer transactions start with BEGIN IMMEDIATE: a deferred transaction that reads and then
 * writes can fail with SQLITE_BUSY when another process committed in between, which no busy
 * timeout can cure; taking the write lock up front makes concurrent writers queue instead.
 *
 * The writer waits for another process's write lock without blocking the event loop. SQLite's
 * own busy handler (busy_timeout) sleeps inside the synchronous call, which would stop this
 * whole engine (its reads too) for as long as the other process writes, and it sleeps in
 * growing steps (1, 2, 5, 10 ... 100 ms) even when the lock is free again after a millisecond.
 * So the writer runs with busy_timeout = 0 and retries a statement refused with SQLITE_BUSY
 * after a short timer, until `busyTimeoutMs` has passed: exactly what the busy handler would do
 * (a refused statement did nothing), but asynchronously. The reader keeps SQLite's handler: WAL
 * readers are not blocked by writers.
 *
 * A request that may wait for the write lock (a write, a write batch, the start of an interactive
 * transaction) waits at most until ITS deadline, not busyTimeoutMs: the caller opens a wait scope
 * (`openWaitScope`) while it alone uses the writer (transactions.js, the writer slot) and reads
 * afterwards whether a statement gave up on the lock (`scope.gaveUp`): then nothing was written.
 *
 * Where the writer waits for the lock: only in BEGIN IMMEDIATE, run with `exec` (prepared,
 * stepped and finalized in one call). A prepared statement that SQLite refused with SQLITE_BUSY
 * stays "in progress" (libsql cannot reset it without running it again), and while it does, every
 * later COMMIT on the connection fails ("SQL statements in progress") and an autocommit write is
 * never committed - it keeps the write lock. So a write outside a transaction (INSERT, UPDATE,
 * DELETE, ...) runs in a transaction of its own, BEGIN IMMEDIATE ... COMMIT, which is what
 * autocommit does anyway; and should any other prepared statement give up on the lock (DDL,
 * a PRAGMA that writes), the connection is reopened.
 */
export class SqliteConnection {
  /** @param {ConnectionOptions} options */
  constructor(options) {
    this.options = options;
    this.db = new Database(options.path);
    /** @type {Map<string, CachedStatement>} */
    this.statements = new Map();
    this.closed = false;
    this.protocol = 'file';
    /** @type {WaitScope | undefined} */
    this.waitScope = undefined;
    this.configuring = false;
  }

  /**
   * Until `closeWaitScope`, statements that meet another connection's write lock wait until
   * `deadline` (ms since the epoch) at the latest, instead of busyTimeoutMs.
   * @param {number} deadline
   * @returns {WaitScope}
   */
  openWaitScope(deadline) {
    const scope = { deadline, gaveUp: false };
    this.waitScope = scope;
    return scope;
  }

  /** @param {WaitScope} scope */
  closeWaitScope(scope) {
    if (this.waitScope === scope) this.waitScope = undefined;
  }

  /** Applies the per-connection settings; call once before use. */
  async configure() {
    const { role, busyTimeoutMs, synchronous } = this.options;
    const handlerTimeoutMs = role === 'writer' ? 0 : Math.max(0, Math.floor(busyTimeoutMs));
    const pragmas = [`PRAGMA busy_timeout = ${handlerTimeoutMs}`];
    if (role === 'writer') pragmas.push('PRAGMA journal_mode = WAL');
    // The same on the reader, which answers raw reads (query-handler.js): PRAGMA reads agree.
    pragmas.push(`PRAGMA synchronous = ${synchronous}`, 'PRAGMA foreign_keys = ON');
    if (role === 'reader') pragmas.push('PRAGMA query_only = ON');
    // execute(), not a single attempt: the writer (busy_timeout 0) may meet another engine that is
    // opening the same file (e.g. uvicorn workers starting together) and must wait for it.
    this.configuring = true;
    try {
      for (const pragma of pragmas) await this.execute(pragma);
    } finally {
      this.configuring = false;
    }
  }

  /**
   * @param {InStatement} statement
   * @returns {Promise<ResultSet>}
   */
  async execute(statement) {
    if (this.options.role !== 'writer') return this.#executeOnce(statement);
    const outsideTransaction = !this.configuring && !this.db.inTransaction;
    if (outsideTransaction && WRITES.test(sqlOf(statement))) return this.#inOwnTransaction(statement);
    try {
      return await this.#whileBusy(() => this.#executeOnce(statement));
    } catch (error) {
      if (outsideTransaction && isRetryableBusy(error)) await this.#reopen();
      throw error;
    }
  }

  /**
   * BEGIN, COMMIT or ROLLBACK, with `exec`: nothing is left behind when SQLite refuses it.
   * @param {string} sql
   */
  async control(sql) {
    await this.#whileBusy(async () => { this.db.exec(sql); });
  }

  /** @param {InStatement} statement */
  async #inOwnTransaction(statement) {
    await this.control('BEGIN IMMEDIATE');
    try {
      const result = await this.#executeOnce(statement);
      await this.control('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /**
   * Runs `attempt` again while SQLite refuses it with SQLITE_BUSY (another connection holds the
   * lock), until the wait scope's deadline or busyTimeoutMs.
   * @template T
   * @param {() => Promise<T>} attempt
   * @returns {Promise<T>}
   */
  async #whileBusy(attempt) {
    const scope = this.waitScope;
    const deadline = scope?.deadline ?? Date.now() + this.options.busyTimeoutMs;
    for (let number = 0; ; number++) {
      try {
        return await attempt();
      } catch (error) {
        if (!isRetryableBusy(error)) throw error;
        const left = deadline - Date.now();
        if (left <= 0) {
          if (scope) scope.gaveUp = true;
          throw error;
        }
        await sleep(Math.min(busyBackoffMs(number), left));
      }
    }
  }

  /** A fresh connection in place of one holding a statement SQLite refused (class comment). */
  async #reopen() {
    const stale = this.db;
    this.statements.clear();
    this.db = new Database(this.options.path);
    stale.close();
    await this.configure();
  }

  /**
   * @param {InStatement} statement
   * @returns {Promise<ResultSet>}
   */
  async #executeOnce(statement) {
    const sql = sqlOf(statement);
    const args = typeof statement === 'string' || statement.args === undefined ? [] : statement.args;
    // Errors go up as libsql throws them: the adapter reads their `rawCode`, the engine SQLite's
    // own message (e.g. the columns in "UNIQUE constraint failed: User.email").
    const cached = this.#prepared(sql);
    const values = Array.isArray(args) ? args.map(toSql) : namedArgs(args);
    if (cached.reader) {
      const rows = cached.statement.all(values);
      for (const row of rows) {
        for (let i = 0; i < row.length; i++) if (row[i] instanceof Buffer) row[i] = toArrayBuffer(row[i]);
      }
      return resultSet(cached.columns, cached.columnTypes, rows, 0, undefined);
    }
    const info = cached.statement.run(values);
    return resultSet([], [], [], info.changes, BigInt(info.lastInsertRowid));
  }

  /** @param {string} sql */
  #prepared(sql) {
    const hit = this.statements.get(sql);
    if (hit !== undefined) return hit;
    const statement = this.db.prepare(sql);
    statement.safeIntegers(true);
    let reader = true;
    try {
      statement.raw(true);
    } catch {
      reader = false; // raw() refuses statements that return no data
    }
    const columns = reader ? statement.columns() : [];
    /** @type {CachedStatement} */
    const cached = {
      statement,
      reader,
      columns: columns.map((/** @type {any} */ column) => column.name),
      columnTypes: columns.map((/** @type {any} */ column) => column.type ?? ''),
    };
    const oldest = this.statements.keys().next().value;
    if (this.statements.size >= STATEMENT_CACHE_SIZE && oldest !== undefined) this.statements.delete(oldest);
    this.statements.set(sql, cached);
    return cached;
  }

  /** @param {string} _mode ignored: see the class comment */
  async transaction(_mode) {
    await this.control(this.options.role === 'writer' ? 'BEGIN IMMEDIATE' : 'BEGIN DEFERRED');
    return new SameConnectionTransaction(this);
  }

  /** Rolls back whatever transaction is open on this connection, if any. */
  async abandonOpenTransaction() {
    if (this.db.inTransaction) await this.control('ROLLBACK');
  }

  /**
   * Ends a transaction nobody will finish (its COMMIT failed): rolled back, or, should even that
   * fail, the connection is reopened (closing it makes SQLite roll back).
   */
  async discardOpenTransaction() {
    try {
      await this.abandonOpenTransaction();
    } catch {
      await this.#reopen();
    }
  }

  close() {
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }
}

// SQLITE_BUSY and SQLITE_BUSY_RECOVERY: the statement did nothing and may simply run again.
// (SQLITE_BUSY_SNAPSHOT is not: its transaction must start over. The writer's BEGIN IMMEDIATE
// transactions never get it.)
const RETRYABLE_BUSY_CODES = new Set([5, 261]);
// Statements that write: outside a transaction the writer runs them in one of its own.
const WRITES = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

/** @param {InStatement} statement */
function sqlOf(statement) {
  return typeof statement === 'string' ? statement : statement.sql;
}

/** @param {any} error libsql's, with SQLite's extended code as `rawCode` */
function isRetryableBusy(error) {
  return RETRYABLE_BUSY_CODES.has(error?.rawCode);
}

/** 0.5, 1, 2, then 4 ms (with jitter): the other process's write is usually a batch of ~1 ms. */
function busyBackoffMs(/** @type {number} */ attempt) {
  const ceiling = Math.min(4, 0.5 * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A ResultSet as `@libsql/client` builds it (the adapter reads columns, columnTypes, rows, rowsAffected).
 * @param {string[]} columns @param {string[]} columnTypes @param {unknown[][]} rows
 * @param {number} rowsAffected @param {bigint | undefined} lastInsertRowid
 * @returns {ResultSet}
 */
function resultSet(columns, columnTypes, rows, rowsAffected, lastInsertRowid) {
  return { columns, columnTypes, rows, rowsAffected, lastInsertRowid };
}

/** `@libsql/client`'s argument conversion for intMode "bigint". @param {unknown} value */
function toSql(value) {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError('Only finite numbers (not Infinity or NaN) can be passed as arguments');
      return value;
    case 'bigint':
      if (value < MIN_INTEGER || value > MAX_INTEGER) {
        throw new RangeError('bigint is too large to be represented as a 64-bit integer and passed as argument');
      }
      return value;
    case 'boolean':
      return value ? 1n : 0n;
    case 'undefined':
      throw new TypeError('undefined cannot be passed as argument to the database');
    default:
      if (value instanceof ArrayBuffer) return Buffer.from(value);
      if (value instanceof Date) return value.valueOf();
      return value;
  }
}

/** @param {Record<string, unknown>} args */
function namedArgs(args) {
  /** @type {Record<string, unknown>} */
  const named = {};
  for (const name in args) {
    const bare = name[0] === '@' || name[0] === '$' || name[0] === ':' ? name.substring(1) : name;
    named[bare] = toSql(args[name]);
  }
  return named;
}

/** A blob's own bytes (a Buffer may be a view into a larger pooled ArrayBuffer). @param {Buffer} buffer */
function toArrayBuffer(buffer) {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
}



/** A transaction that runs on its parent's connection (see SqliteConnection). */
class SameConnectionTransaction {
  /** @param {SqliteConnection} connection */
  constructor(connection) {
    this.connection = connection;
    this.finished = false;
  }

  /** @param {InStatement} statement */
  execute(statement) {
    return this.connection.execute(statement);
  }

  async commit() {
    this.finished = true;
    try {
      await this.connection.control('COMMIT');
    } catch (error) {
      // SQLite may keep the transaction open after a refused COMMIT (a deferred foreign key;
      // SQLITE_FULL or an I/O error when it could undo only the last step). Nobody can commit it
      // any more (the engine has closed it), and left open it would keep the write lock and take
      // in every later statement of this connection: roll it back, then report the COMMIT's error.
      await this.connection.discardOpenTransaction();
      throw error;
    }
  }

  async rollback() {
    if (this.finished) return;
    this.finished = true;
    try {
      await this.connection.control('ROLLBACK');
    } catch (error) {
      // SQLite may already have rolled back (e.g. after SQLITE_FULL); nothing is left to undo.
      if (!/no transaction is active/i.test(String(error))) throw error;
    }
  }

  close() {}

  get closed() {
    return this.finished;
  }
}
