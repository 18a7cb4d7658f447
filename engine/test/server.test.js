import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { BIN, makeWorkspace, startEngine, createTables } from './helpers.js';

const workspace = makeWorkspace();
/** @type {Awaited<ReturnType<typeof startEngine>>} */
let engine;

before(async () => {
  engine = await startEngine(workspace, { args: ['--debug'] });
  await createTables(engine);
});
after(async () => { await engine.stop(); });

/** @param {string} email @param {string} [txId] */
const createAccount = (email, txId) => engine.graphql(`mutation { result: createOneAccount(data: {email: ${JSON.stringify(email)}}) { id email balance } }`, txId);
/** @param {string} [txId] */
const countAccounts = async (txId) => (await engine.graphql('query { result: aggregateAccount { _count { _all } } }', txId)).json.data.result._count._all;

// The engine commit is written once, in the pinned dependency (package.json: `5.17.0-31.<commit>`);
// Prisma Client Python refuses to start an engine whose --version names another commit.
const PINNED_WASM_VERSION = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  .dependencies['@prisma/query-engine-wasm'];

test('--version prints the engine commit the client expects', () => {
  const commit = String(PINNED_WASM_VERSION).split('.').at(-1);
  assert.match(String(commit), /^[0-9a-f]{40}$/);
  assert.equal(execFileSync(process.execPath, [BIN, '--version']).toString().trim(), `query-engine ${commit}`);
});

test('GraphQL writes and reads come back in the Rust engine shape', async () => {
  const created = await engine.graphql('mutation { result: createOneAccount(data: {email: "a@x", balance: 9007199254740993, entries: {create: [{amount: "12.50"}]}}) { id balance entries { amount } } }');
  assert.equal(created.status, 200);
  assert.deepEqual(created.json.data.result.entries, [{ amount: '12.5' }]);
  assert.equal(created.json.data.result.balance, '9007199254740993');
  const duplicate = await createAccount('a@x');
  assert.equal(duplicate.json.errors[0].user_facing_error.error_code, 'P2002');
});

test('JSON-protocol bodies pass through unchanged', async () => {
  const reply = await engine.post('/', { modelName: 'Account', action: 'findMany', query: { arguments: { where: { email: 'a@x' } }, selection: { $scalars: true } } });
  assert.equal(reply.json.data.findManyAccount[0].balance.$type, 'BigInt');
});

test('interactive transaction: commit, then every later call says it is closed', async () => {
  const start = await engine.post('/transaction/start', { max_wait: 2000, timeout: 5000 });
  assert.equal(start.status, 200);
  const { id } = start.json;
  assert.equal((await createAccount('tx@x', id)).status, 200);
  assert.equal((await engine.post(`/transaction/${id}/commit`)).status, 200);
  const again = await engine.post(`/transaction/${id}/commit`);
  assert.equal(again.status, 422);
  assert.equal(again.json.error_code, 'P2028');
  const query = await createAccount('late@x', id);
  assert.match(query.json.errors[0].error, /^Transaction already closed: A query cannot be executed on a committed transaction/);
});

test('interactive transaction: rollback undoes the writes', async () => {
  const { id } = (await engine.post('/transaction/start', {})).json;
  await createAccount('rolled@x', id);
  assert.equal((await engine.post(`/transaction/${id}/rollback`)).status, 200);
  const found = await engine.graphql('query { result: findUniqueAccount(where: {email: "rolled@x"}) { id } }');
  assert.equal(found.json.data.result, null);
});

test('interactive transaction: timeout rolls back and later calls report expiry', async () => {
  const { id } = (await engine.post('/transaction/start', { max_wait: 1000, timeout: 100 })).json;
  await createAccount('expired@x', id);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const query = await createAccount('expired2@x', id);
  assert.match(query.json.errors[0].error, /^Transaction already closed: A query cannot be executed on an expired transaction/);
  const commit = await engine.post(`/transaction/${id}/commit`);
  assert.equal(commit.status, 422);
  const found = await engine.graphql('query { result: findUniqueAccount(where: {email: "expired@x"}) { id } }');
  assert.equal(found.json.data.result, null);
});

test('unknown transaction ids never reach the wasm engine', async () => {
  for (const id of ['x', 'nope', 'c'.repeat(25), '../../etc', '%00']) {
    const commit = await engine.post(`/transaction/${encodeURIComponent(id)}/commit`);
    assert.equal(commit.status, 404, id);
    assert.equal(commit.json.error_code, 'P2028');
    const query = await createAccount(`${id}@unknown`, id);
    assert.match(query.json.errors[0].error, /Transaction not found/);
  }
  assert.equal((await engine.post('/transaction/x/explode')).status, 400);
});

test('max_wait: a second transaction waits for the first and gives up in time', async () => {
  const first = (await engine.post('/transaction/start', { max_wait: 1000, timeout: 5000 })).json.id;
  const second = await engine.post('/transaction/start', { max_wait: 100, timeout: 5000 });
  assert.equal(second.status, 504);
  assert.match(second.json.message, /Unable to start a transaction in the given time/);
  const third = engine.post('/transaction/start', { max_wait: 5000, timeout: 5000 });
  await engine.post(`/transaction/${first}/commit`);
  const thirdReply = await third;
  assert.equal(thirdReply.status, 200, 'the waiting transaction starts once the first one ends');
  await engine.post(`/transaction/${thirdReply.json.id}/rollback`);
});

test('a read outside a transaction does not wait for an open transaction', async () => {
  const { id } = (await engine.post('/transaction/start', { max_wait: 1000, timeout: 10_000 })).json;
  await createAccount('inside@x', id); // the transaction now holds SQLite's write lock
  const before = await countAccounts();
  const inside = await countAccounts(id);
  assert.equal(inside, before + 1, 'the transaction sees its own write');
  // The read above answered while the transaction is still open: prove it is still open.
  assert.equal((await engine.post(`/transaction/${id}/commit`)).status, 200);
  assert.equal(await countAccounts(), before + 1);
});

test('batches: transactional batches are all or nothing, others answer item by item', async () => {
  const failing = await engine.post('/', {
    batch: [
      { query: 'mutation { result: createOneAccount(data: {email: "b1@x"}) { id } }', variables: {} },
      { query: 'mutation { result: createOneAccount(data: {email: "a@x"}) { id } }', variables: {} },
    ],
    transaction: true,
    isolationLevel: 'Serializable',
  });
  assert.equal(failing.json.errors[0].user_facing_error.error_code, 'P2002');
  assert.equal((await engine.graphql('query { result: findUniqueAccount(where: {email: "b1@x"}) { id } }')).json.data.result, null);

  const reads = await engine.post('/', {
    batch: [
      { query: 'query { result: findUniqueAccount(where: {email: "a@x"}) { email } }', variables: {} },
      { query: 'query { result: findUniqueAccount(where: {email: "none@x"}) { email } }', variables: {} },
    ],
    transaction: false,
  });
  assert.deepEqual(reads.json, { batchResult: [{ data: { result: { email: 'a@x' } } }, { data: { result: null } }] });
});

/** @param {RequestInit} [init] */
const metricsJson = async (init) => /** @type {import('../src/metrics.js').MetricsJson} */ (
  await (await fetch(`${engine.url}/metrics?format=json`, init)).json());

/** @param {import('../src/metrics.js').MetricsJson} metrics @param {string} key */
const counter = (metrics, key) => {
  const found = metrics.counters.find((c) => c.key === key);
  assert.ok(found, `no counter ${key}`);
  return found.value;
};

const panicsSoFar = async () => counter(await metricsJson(), 'query_engine_panics_total');

test('hostile bodies get an error, never reach a panic, and the server keeps serving', async () => {
  const panicsBefore = await panicsSoFar();
  const bodies = ['', 'garbage', '[]', 'null', '42', '"str"', '{}', '{"query": 1}', '{"query": "query {"}',
    '{"query": "query { result: findManyGhost { id } }"}', '{"query": "{ a } { b }"}', '{"batch": []}', '{"batch": [1, 2]}',
    '{"batch": "x"}', '{"query": "query { result: findManyAccount { id } }", "variables": [1]}',
    `{"query": "query { result: findManyAccount(where: ${'{AND: ['.repeat(200)}{}${']}'.repeat(200)}) { id } }"}`,
    '{"modelName": "Account", "action": "explode", "query": {}}', '{"action": "findMany"}',
    '{"modelName": "Ghost", "action": "findMany", "query": {"selection": {}}}',
    '{"action": "queryRaw", "query": {"arguments": {"query": "SELECT 1"}, "selection": {}}}',
    '{"query": "mutation { result: queryRaw(query: \\"SELECT 1\\") }"}',
    '{"query": "mutation { result: executeRaw(parameters: \\"[]\\") }"}',
    '{"batch": [{"modelName": "Account", "action": "explode", "query": {}}]}',
    '{"batch": [{"modelName": "Account", "action": "findMany", "query": {"selection": {}}}], "transaction": 5}',
    '{"query": "query { result: findManyAccount(take: \\"ten\\") { id } }"}',
    '{"query": "mutation { result: executeRaw(query: \\"SELEKT\\", parameters: \\"[]\\") }"}',
    '{"query": "mutation { result: queryRaw(query: \\"SELECT 1\\", parameters: \\"not json\\") }"}',
    '\u0000\u0001'];
  for (const body of bodies) {
    const reply = await engine.post('/', body);
    assert.ok(reply.status < 500 || reply.json?.errors, `${body.slice(0, 60)} -> ${reply.status} ${reply.text.slice(0, 200)}`);
    assert.ok(reply.status !== 200 || reply.json?.errors || reply.json?.data, body.slice(0, 60));
  }
  for (const body of ['garbage', '[]', '{"max_wait": "soon"}', '{"timeout": -1}', '{"isolation_level": 5}']) {
    const reply = await engine.post('/transaction/start', body);
    assert.equal(reply.status, 400, body);
  }
  assert.equal((await fetch(`${engine.url}/status`)).status, 200);
  assert.equal(await countAccounts() > 0, true);
  assert.equal(await panicsSoFar(), panicsBefore, 'no hostile body reached a wasm panic');
});

test('a real wasm panic is reported, the instance replaced, and open transactions reported lost', async () => {
  const { id } = (await engine.post('/transaction/start', { timeout: 10_000 })).json;
  await createAccount('lost@x', id);
  const panic = await engine.post('/', '{}', { 'x-debug-non-fatal': '1' });
  assert.equal(panic.status, 500);
  assert.equal(panic.json.errors[0].user_facing_error.is_panic, true);
  const lost = await createAccount('lost2@x', id);
  assert.match(lost.json.errors[0].error, /^Transaction already closed: .*panicked/);
  // the replacement serves reads and writes (the lost transaction released the write lock)
  assert.equal((await createAccount('after-panic@x')).status, 200);
  assert.equal((await engine.graphql('query { result: findUniqueAccount(where: {email: "lost@x"}) { id } }')).json.data.result, null);
  assert.equal(counter(await metricsJson(), 'query_engine_panics_total'), 1);
});

test('metrics count queries and transactions', async () => {
  const before = await metricsJson();
  const value = counter;
  await countAccounts();
  await countAccounts();
  const afterwards = await metricsJson({ method: 'GET' });
  assert.equal(value(afterwards, 'prisma_client_queries_total') - value(before, 'prisma_client_queries_total'), 2);
  assert.ok(value(afterwards, 'prisma_datasource_queries_total') > value(before, 'prisma_datasource_queries_total'));
  /** @param {import('../src/metrics.js').MetricsJson} m */
  const waits = (m) => {
    const histogram = m.histograms.find((h) => h.key === 'prisma_client_queries_wait_histogram_ms');
    assert.ok(histogram, 'no histogram prisma_client_queries_wait_histogram_ms');
    return histogram.value.count;
  };
  assert.ok(waits(afterwards) >= waits(before) + 2, 'each statement waited for its connection once');
  const text = await (await fetch(`${engine.url}/metrics`)).text();
  assert.match(text, /^prisma_client_queries_total \d+$/m);
});

test('the database is in WAL mode with foreign keys on', async () => {
  const mode = await engine.graphql('mutation { result: queryRaw(query: "PRAGMA journal_mode", parameters: "[]") }');
  assert.deepEqual(mode.json.data.result.rows, [['wal']]);
  const fk = await engine.graphql('mutation { result: queryRaw(query: "PRAGMA foreign_keys", parameters: "[]") }');
  assert.equal(Number(fk.json.data.result.rows[0][0]), 1);
  const orphan = await engine.graphql('mutation { result: createOneEntry(data: {accountId: 999999, amount: "1"}) { id } }');
  assert.equal(orphan.json.errors[0].user_facing_error.error_code, 'P2003');
});

test('text with NUL is refused before anything is written (the binding would read it back cut)', async () => {
  const reply = await createAccount('nul\u0000@x');
  assert.equal(reply.json.errors[0].user_facing_error.error_code, 'P2007');
  const raw = await engine.graphql(`mutation { result: executeRaw(query: "INSERT INTO Account (email) VALUES (?)", parameters: ${JSON.stringify(JSON.stringify(['raw\u0000@x']))}) }`);
  assert.equal(raw.json.errors[0].user_facing_error.error_code, 'P2007');
  const found = await engine.graphql('query { result: findManyAccount(where: {email: {startsWith: "nul"}}) { id } }');
  assert.deepEqual(found.json.data.result, []);
});

test('a missing table is P2021, as with the Rust engine', async () => {
  const bare = await startEngine(makeWorkspace());
  try {
    const reply = await bare.graphql('query { result: findManyAccount { id } }');
    assert.equal(reply.json.errors[0].user_facing_error.error_code, 'P2021');
    assert.equal(reply.json.errors[0].user_facing_error.meta.table, 'main.Account');
  } finally {
    await bare.stop();
  }
});

test('SIGTERM shuts down cleanly and keeps every committed write', async () => {
  const otherWorkspace = makeWorkspace();
  const other = await startEngine(otherWorkspace);
  await createTables(other);
  const { id } = (await other.post('/transaction/start', {})).json;
  await other.graphql('mutation { result: createOneAccount(data: {email: "open@x"}) { id } }', id);
  await other.graphql('mutation { result: createOneAccount(data: {email: "kept@x"}) { id } }').catch(() => undefined);
  assert.equal(await other.stop('SIGTERM'), 0);
  const again = await startEngine(otherWorkspace);
  const emails = (await again.graphql('query { result: findManyAccount { email } }')).json.data.result.map((/** @type {{email: string}} */ a) => a.email);
  await again.stop();
  assert.deepEqual(emails, ['kept@x'], 'the committed write survives; the open transaction was rolled back');
});

test.after?.(() => fs.rmSync(workspace.dir, { recursive: true, force: true }));

test('raw queries need --enable-raw-queries, as with the Rust engine', async () => {
  const workspace = makeWorkspace();
  const plain = await startEngine(workspace, { rawFlag: false });
  try {
    const reply = await plain.graphql('mutation { result: queryRaw(query: "SELECT 1", parameters: "[]") }');
    assert.match(reply.json.errors[0].error, /Raw queries are disabled/);
  } finally {
    await plain.stop();
  }
});

test('the database files the engine creates are private to their owner', async () => {
  const workspace = makeWorkspace();
  const fresh = await startEngine(workspace);
  try {
    await createTables(fresh);
    for (const suffix of ['', '-wal', '-shm']) {
      const mode = fs.statSync(workspace.dbPath + suffix).mode & 0o777;
      assert.equal(mode & 0o077, 0, `${suffix || 'db'} is ${mode.toString(8)}`);
    }
  } finally {
    await fresh.stop();
  }
});
