import { createClient } from '@libsql/client';

/**
 * @typedef {import('@libsql/client').Client} LibsqlClient
 * @typedef {import('@libsql/client').InStatement} InStatement
 * @typedef {import('@libsql/client').ResultSet} ResultSet
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {string} path          absolute path of the SQLite file
 * @property {'writer' | 'reader'} role
 * @property {number} busyTimeoutMs how long a statement waits for another process's lock
 * @property {string} synchronous   PRAGMA synchronous for the writer (FULL keeps every commit on disk)
 */

/**
 * One SQLite connection with the settings Garage relies on, shaped like the subset of
 * `@libsql/client`'s Client that `@prisma/adapter-libsql` uses.
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
 */
export class SqliteConnection {
  /** @param {ConnectionOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {LibsqlClient} */
    this.client = createClient({ url: `file:${options.path}`, intMode: 'bigint' });
    this.closed = false;
    this.protocol = 'file';
  }

  /** Applies the per-connection settings; call once before use. */
  async configure() {
    const { role, busyTimeoutMs, synchronous } = this.options;
    const pragmas = [`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`];
    if (role === 'writer') {
      pragmas.push('PRAGMA journal_mode = WAL', `PRAGMA synchronous = ${synchronous}`, 'PRAGMA foreign_keys = ON');
    } else {
      pragmas.push('PRAGMA query_only = ON');
    }
    for (const pragma of pragmas) await this.client.execute(pragma);
  }

  /** @param {InStatement} statement */
  execute(statement) {
    return this.client.execute(statement);
  }

  /** @param {string} _mode ignored: see the class comment */
  async transaction(_mode) {
    const begin = this.options.role === 'writer' ? 'BEGIN IMMEDIATE' : 'BEGIN DEFERRED';
    await this.execute(begin);
    return new SameConnectionTransaction(this);
  }

  /** Rolls back whatever transaction is open on this connection, if any. */
  async abandonOpenTransaction() {
    try {
      await this.client.execute('ROLLBACK');
    } catch {
      // no transaction was open
    }
  }

  close() {
    this.closed = true;
    this.client.close();
  }
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
    await this.connection.execute('COMMIT');
  }

  async rollback() {
    if (this.finished) return;
    this.finished = true;
    try {
      await this.connection.execute('ROLLBACK');
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
