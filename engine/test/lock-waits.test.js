// Waiting for SQLite's write lock is bounded by each request's own max wait, and an engine never
// outlives the process that started it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import Database from 'libsql';
import { BIN, makeWorkspace, startEngine, createTables, freePort } from './helpers.js';

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

const createAccount = (/** @type {string} */ email, /** @type {Record<string, string>} */ headers = {}) => engine.post(
  '/', { query: `mutation { result: createOneAccount(data: {email: ${JSON.stringify(email)}}) { id } }`, variables: {} }, headers,
);
const exists = async (/** @type {string} */ email) => (await engine.graphql(
  `query { result: findUniqueAccount(where: {email: ${JSON.stringify(email)}}) { id } }`,
)).json.data.result !== null;

/** Another process's connection holding SQLite's write lock until `release()`. */
function holdWriteLock() {
  const other = new Database(workspace.dbPath);
  other.exec('BEGIN IMMEDIATE');
  return { release: () => { other.exec('ROLLBACK'); other.close(); } };
}

/** @param {() => Promise<any>} call */
async function timed(call) {
  const started = performance.now();
  const reply = await call();
  return { reply, ms: performance.now() - started };
}

test('a write meeting another process\'s write lock gets 503 P1008 after its x-max-wait-ms, and nothing is written', async () => {
  const lock = holdWriteLock();
  try {
    const { reply, ms } = await timed(() => createAccount('locked@x', { 'x-max-wait-ms': '300' }));
    assert.equal(reply.status, 503, reply.text);
    assert.equal(reply.json.errors[0].user_facing_error.error_code, 'P1008');
    assert.match(reply.json.errors[0].error, /database is locked/);
    assert.ok(ms >= 300 && ms < 3000, `answered after ${ms} ms`);
    // reads never wait for the lock
    const read = await timed(() => exists('locked@x'));
    assert.equal(read.reply, false);
  } finally {
    lock.release();
  }
  assert.equal((await createAccount('unlocked@x', { 'x-max-wait-ms': '300' })).status, 200);
  assert.equal(await exists('unlocked@x'), true);
});

test('max_wait bounds the start of a transaction, SQLite\'s write lock included: 504 P2028, not P2036', async () => {
  const lock = holdWriteLock();
  try {
    const { reply, ms } = await timed(() => engine.post('/transaction/start', { max_wait: 300, timeout: 5000 }));
    assert.equal(reply.status, 504, reply.text);
    assert.equal(reply.json.error_code, 'P2028');
    assert.match(reply.json.message, /Unable to start a transaction in the given time/);
    assert.ok(ms >= 300 && ms < 3000, `answered after ${ms} ms`);
  } finally {
    lock.release();
  }
  const { id } = (await engine.post('/transaction/start', { max_wait: 300, timeout: 5000 })).json;
  assert.equal((await engine.post(`/transaction/${id}/rollback`)).status, 200, 'the writer is free again');
});

test('a write outside transactions waits for an open transaction of the same engine only its max wait', async () => {
  const { id } = (await engine.post('/transaction/start', { max_wait: 1000, timeout: 10_000 })).json;
  try {
    const { reply, ms } = await timed(() => createAccount('queued@x', { 'x-max-wait-ms': '200' }));
    assert.equal(reply.status, 503, reply.text);
    assert.ok(ms < 3000, `answered after ${ms} ms`);
    const waiting = createAccount('waits@x', { 'x-max-wait-ms': '5000' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await engine.post(`/transaction/${id}/commit`);
    assert.equal((await waiting).status, 200, 'a write with time left runs once the transaction ends');
  } finally {
    await engine.post(`/transaction/${id}/rollback`);
  }
  assert.equal(await exists('queued@x'), false);
  assert.equal(await exists('waits@x'), true);
});

test('a malformed x-max-wait-ms is refused', async () => {
  assert.equal((await createAccount('bad@x', { 'x-max-wait-ms': 'soon' })).status, 422);
});

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the engine exits when the process that started it is killed, and its transaction is rolled back', async () => {
  // A parent process (like a uvicorn worker) starts the engine and prints its pid, then is SIGKILLed.
  const port = await freePort();
  const launcher = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ${JSON.stringify([BIN, '-p', String(port)])}, { stdio: 'inherit' });
    console.log(child.pid);
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['-e', launcher], {
    env: { ...process.env, PRISMA_DML_PATH: workspace.schemaPath, DATABASE_URL: `file:${workspace.dbPath}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const enginePid = await new Promise((resolve) => parent.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        if ((await fetch(`${url}/status`)).ok) break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const start = /** @type {{id: string}} */ (await (await fetch(`${url}/transaction/start`, { method: 'POST', body: JSON.stringify({ timeout: 60_000 }) })).json());
    const write = await fetch(`${url}/`, {
      method: 'POST', headers: { 'x-transaction-id': start.id },
      body: JSON.stringify({ query: 'mutation { result: createOneAccount(data: {email: "orphan@x"}) { id } }', variables: {} }),
    });
    assert.equal(write.status, 200); // the engine now holds SQLite's write lock in an open transaction

    parent.kill('SIGKILL');
    const killedAt = performance.now();
    while (alive(enginePid) && performance.now() - killedAt < 5000) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(alive(enginePid), false, 'the engine outlived its parent');
    const lock = holdWriteLock(); // throws SQLITE_BUSY if the dead engine's transaction still held it
    lock.release();
    assert.equal(await exists('orphan@x'), false, 'the open transaction was rolled back');
  } finally {
    if (alive(enginePid)) process.kill(enginePid, 'SIGKILL');
    parent.kill('SIGKILL');
  }
});

test('a raw query that only reads runs beside an open transaction; one that writes waits for the writer', async () => {
  const { id } = (await engine.post('/transaction/start', { max_wait: 1000, timeout: 10_000 })).json;
  try {
    const raw = (/** @type {string} */ sql, /** @type {string} */ wait) => engine.post(
      '/', { query: `mutation { result: queryRaw(query: ${JSON.stringify(sql)}, parameters: "[]") }`, variables: {} },
      { 'x-max-wait-ms': wait },
    );
    const read = await raw('SELECT count(*) AS n FROM Account', '0');
    assert.equal(read.status, 200, read.text);
    assert.ok(read.json.data.result.rows.length === 1);
    const write = await raw("INSERT INTO Account (email) VALUES ('raw@x') RETURNING id", '200');
    assert.equal(write.status, 503, 'the write queued for the writer behind the open transaction');
  } finally {
    await engine.post(`/transaction/${id}/rollback`);
  }
  const write = await engine.post('/', { query: "mutation { result: queryRaw(query: \"INSERT INTO Account (email) VALUES ('raw@x') RETURNING email\", parameters: \"[]\") }", variables: {} });
  assert.deepEqual(write.json.data.result.rows, [['raw@x']]);
});

test('after a write gave up on the lock, later writes are committed at once and leave the lock free', async () => {
  // SQLite leaves a prepared statement it refused with SQLITE_BUSY "in progress"; were it kept, a
  // later autocommit write would never commit (holding the lock) and every COMMIT would fail.
  const lock = holdWriteLock();
  try {
    const raw = await engine.post('/', { query: 'mutation { result: executeRaw(query: "UPDATE Account SET balance = balance + 1", parameters: "[]") }', variables: {} }, { 'x-max-wait-ms': '100' });
    assert.equal(raw.status, 503, raw.text);
  } finally {
    lock.release();
  }
  assert.equal((await createAccount('single@x')).status, 200);
  const batch = await engine.post('/', {
    batch: [{ query: 'mutation { result: createOneAccount(data: {email: "batch@x"}) { id } }', variables: {} }], transaction: true,
  });
  assert.equal(batch.status, 200, batch.text);
  assert.equal(batch.json.batchResult[0].errors, undefined, batch.text);
  const other = new Database(workspace.dbPath);
  try {
    const emails = other.prepare("SELECT email FROM Account WHERE email IN ('single@x', 'batch@x') ORDER BY email").all([]);
    assert.deepEqual(emails.map((/** @type {any} */ row) => row.email), ['batch@x', 'single@x'], 'committed, visible to another connection');
    other.exec('BEGIN IMMEDIATE'); // throws if the engine kept the write lock
    other.exec('ROLLBACK');
  } finally {
    other.close();
  }
});
