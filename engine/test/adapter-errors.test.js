// The driver adapter's errors reach the client (SQLite's message and code in place of a bare
// P2036 "Error in external connector (id N)"), and the registry that holds them stays bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import Database from 'libsql';
import { AdapterErrorRegistry } from '../src/adapter-errors.js';
import { Logger } from '../src/logger.js';
import { makeWorkspace, startEngine, createTables } from './helpers.js';

const workspace = makeWorkspace();
/** @type {Awaited<ReturnType<typeof startEngine>>} */
let engine;

before(async () => {
  engine = await startEngine(workspace);
  await createTables(engine);
});
after(async () => {
  await engine.stop();
  fs.rmSync(workspace.dir, { recursive: true, force: true });
});

/** @param {string} sql @param {string} [txId] */
const executeRaw = (sql, txId) => engine.graphql(`mutation { result: executeRaw(query: ${JSON.stringify(sql)}, parameters: "[]") }`, txId);
/** @param {string} email @param {string} [txId] */
const createAccount = (email, txId) => engine.graphql(`mutation { result: createOneAccount(data: {email: ${JSON.stringify(email)}}) { id } }`, txId);

/** What another process sees in the file: only committed rows. */
function committedEmails() {
  const other = new Database(workspace.dbPath);
  try {
    return other.prepare('SELECT email FROM Account ORDER BY id').all().map((/** @type {any} */ row) => row.email);
  } finally {
    other.close();
  }
}

/**
 * An interactive transaction whose COMMIT SQLite refuses: a deferred foreign key that points
 * nowhere is checked only at COMMIT, which fails with SQLITE_CONSTRAINT_FOREIGNKEY - a COMMIT
 * failing in the driver adapter, as on a full disk (tests/engine/test_adapter_errors.py has that).
 */
async function commitThatSqliteRefuses() {
  const start = await engine.post('/transaction/start', { max_wait: 2000, timeout: 5000 });
  assert.equal(start.status, 200, start.text);
  const { id } = start.json;
  assert.equal((await executeRaw('PRAGMA defer_foreign_keys = ON', id)).status, 200);
  const entry = await engine.graphql('mutation { result: createOneEntry(data: {accountId: 999999, amount: "1"}) { id } }', id);
  assert.equal(entry.json.errors, undefined, entry.text);
  return engine.post(`/transaction/${id}/commit`);
}

test('a COMMIT refused by SQLite answers P2036 with SQLite\'s message and code, and leaves no transaction open', async () => {
  const commit = await commitThatSqliteRefuses();
  assert.equal(commit.status, 500, commit.text);
  assert.equal(commit.json.error_code, 'P2036');
  assert.match(commit.json.message, /^Error in external connector \(id \d+\): FOREIGN KEY constraint failed \(SQLITE_CONSTRAINT_FOREIGNKEY, extended code 787\)$/);
  assert.equal(commit.json.meta.message, 'FOREIGN KEY constraint failed');
  assert.equal(commit.json.meta.code, 'SQLITE_CONSTRAINT_FOREIGNKEY');
  assert.equal(commit.json.meta.extended_code, 787);

  // SQLite kept that transaction open after the refused COMMIT; the engine rolled it back, so the
  // writer starts new transactions and its writes are committed (another process sees them).
  const start = await engine.post('/transaction/start', {});
  assert.equal(start.status, 200, start.text);
  assert.equal((await createAccount('in-tx-after@x', start.json.id)).status, 200);
  assert.equal((await engine.post(`/transaction/${start.json.id}/commit`)).status, 200);
  assert.equal((await createAccount('single-after@x')).json.errors, undefined);
  assert.deepEqual(committedEmails().filter((email) => email.endsWith('-after@x')), ['in-tx-after@x', 'single-after@x']);
  assert.equal((await engine.graphql('query { result: aggregateEntry { _count { _all } } }')).json.data.result._count._all, 0);
});

test('reported adapter errors leave the registry: after many failures it holds none', async () => {
  // The stock registry kept every error: each failure got the next id (0, 1, 2, ...) and stayed in
  // memory. Each error removed once its answer names it, every failure finds the registry empty.
  for (let attempt = 0; attempt < 40; attempt++) {
    const commit = await commitThatSqliteRefuses();
    assert.equal(commit.json.error_code, 'P2036');
    assert.equal(commit.json.meta.id, 0, `attempt ${attempt}: ${commit.text}`);
    assert.match(commit.json.message, /FOREIGN KEY constraint failed/);
  }
});

test('on a full database (max_page_count) every kind of write says "database or disk is full"', async () => {
  // max_page_count is per connection: set on the writer (executeRaw outside a transaction runs there)
  const pages = Number((await engine.graphql('query { result: queryRaw(query: "PRAGMA page_count", parameters: "[]") }')).json.data.result.rows[0][0]);
  assert.equal((await executeRaw(`PRAGMA max_page_count = ${pages}`)).status, 200);
  const big = 'x'.repeat(8000); // needs overflow pages, which the limit refuses
  try {
    const single = await createAccount(`${big}1`);
    assert.match(single.json.errors[0].user_facing_error.message, /database or disk is full/);

    const batch = await engine.post('/', { batch: [{ query: `mutation { result: createOneAccount(data: {email: "${big}2"}) { id } }`, variables: {} }], transaction: true });
    assert.match(batch.json.errors[0].user_facing_error.message, /database or disk is full/);

    const raw = await executeRaw(`INSERT INTO Account (email) VALUES ('${big}3')`);
    assert.match(raw.json.errors[0].user_facing_error.message, /database or disk is full/);
    assert.equal(raw.json.errors[0].user_facing_error.error_code, 'P2010');

    const start = await engine.post('/transaction/start', {});
    const inTransaction = await createAccount(`${big}4`, start.json.id);
    assert.match(inTransaction.json.errors[0].user_facing_error.message, /database or disk is full/);
    await engine.post(`/transaction/${start.json.id}/rollback`);
  } finally {
    await executeRaw('PRAGMA max_page_count = 1073741823');
  }
  assert.equal((await createAccount(`${big}5`)).json.errors, undefined);
  assert.equal(committedEmails().filter((email) => email.startsWith(big)).length, 1);
});

// The registry itself, without the engine.

const quietLogger = () => new Logger({ level: 'error', json: true, stream: /** @type {any} */ ({ write() {} }) });

/** The answer the wasm engine gives for an adapter error, inside `{"errors": [...]}`. @param {number} id */
const externalErrorAnswer = (id) => JSON.stringify({
  errors: [{ error: 'Error in connector: External connector error',
    user_facing_error: { is_panic: false, message: `Error in external connector (id ${id})`, meta: { id }, error_code: 'P2036' } }],
});

/** An error shaped like libsql's SqliteError. */
function sqliteError() {
  return Object.assign(new Error('database or disk is full'), { name: 'SqliteError', code: 'SQLITE_FULL', rawCode: 13 });
}

test('the registry explains P2036 in every answer shape and removes what it explained', async () => {
  const registry = new AdapterErrorRegistry(quietLogger());
  const query = JSON.parse(await registry.around(async () => externalErrorAnswer(registry.registerNewError(sqliteError()))));
  assert.equal(query.errors[0].user_facing_error.message, 'Error in external connector (id 0): database or disk is full (SQLITE_FULL, extended code 13)');
  assert.equal(query.errors[0].error, 'Error in connector: External connector error: database or disk is full (SQLITE_FULL, extended code 13)');
  assert.deepEqual(query.errors[0].user_facing_error.meta, { id: 0, message: 'database or disk is full', code: 'SQLITE_FULL', extended_code: 13 });
  assert.equal(registry.size, 0);

  const transaction = JSON.parse(await registry.around(async () => {
    const id = registry.registerNewError(new TypeError('undefined cannot be passed as argument to the database'));
    return JSON.stringify({ is_panic: false, message: `Error in external connector (id ${id})`, meta: { id }, error_code: 'P2036' });
  }));
  assert.equal(transaction.message, 'Error in external connector (id 0): TypeError: undefined cannot be passed as argument to the database');

  const batch = JSON.parse(await registry.around(async () => {
    const id = registry.registerNewError(sqliteError());
    return `{"batchResult":[{"data":{"result":{"id":1}}},${externalErrorAnswer(id)}]}`;
  }));
  assert.deepEqual(batch.batchResult[0], { data: { result: { id: 1 } } });
  assert.match(batch.batchResult[1].errors[0].user_facing_error.message, /database or disk is full/);
  assert.equal(registry.size, 0);

  // answers without P2036 are passed on as they are (not re-encoded)
  const success = '{"data":{"result":{"big":12345678901234567890,"note":"P2036"}}}';
  assert.equal(await registry.around(async () => success), success);

  // Prisma's JS client interface: consumeError returns the error once, and removes it
  const id = registry.registerNewError(sqliteError());
  assert.equal(/** @type {any} */ (registry.consumeError(id))?.error.code, 'SQLITE_FULL');
  assert.equal(registry.consumeError(id), undefined);
});

test('errors no answer reports are dropped once every call that could report them has finished', async () => {
  const registry = new AdapterErrorRegistry(quietLogger());
  /** @type {(answer: string) => void} */
  let finishSlow = () => {};
  const slow = registry.around(() => new Promise((resolve) => { finishSlow = resolve; }));
  registry.registerNewError(new Error('swallowed by the engine while the slow call runs'));
  await registry.around(async () => '{"data":{}}');
  assert.equal(registry.size, 1, 'the slow call, still running, may report it');
  finishSlow('{"data":{}}');
  await slow;
  assert.equal(registry.size, 0);

  // errors registered while no call runs (an engine timer) go when the next call finishes
  for (let n = 0; n < 1000; n++) registry.registerNewError(new Error(`stray ${n}`));
  await registry.around(async () => '{"data":{}}');
  assert.equal(registry.size, 0);

  // a failed call (a wasm trap) finishes too
  registry.registerNewError(new Error('before a trap'));
  await assert.rejects(registry.around(async () => { throw new Error('trap'); }));
  assert.equal(registry.size, 0);
});
