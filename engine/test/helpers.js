import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/query-engine.js', import.meta.url));

export const SCHEMA = `datasource db {
  provider = "sqlite"
  url      = env("DATABASE_URL")
}
model Account {
  id      Int      @id @default(autoincrement())
  email   String   @unique
  balance BigInt   @default(0)
  entries Entry[]
}
model Entry {
  id        Int      @id @default(autoincrement())
  accountId Int
  amount    Decimal
  at        DateTime @default(now())
  account   Account  @relation(fields: [accountId], references: [id])
}
`;

const DDL = [
  'CREATE TABLE "Account" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "email" TEXT NOT NULL, "balance" BIGINT NOT NULL DEFAULT 0)',
  'CREATE UNIQUE INDEX "Account_email_key" ON "Account"("email")',
  'CREATE TABLE "Entry" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "accountId" INTEGER NOT NULL, "amount" DECIMAL NOT NULL, "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, CONSTRAINT "Entry_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account" ("id") ON DELETE RESTRICT ON UPDATE CASCADE)',
];

/** A temp folder with schema.prisma; the database file is dev.db in it. */
export function makeWorkspace() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-test-'));
  fs.writeFileSync(path.join(dir, 'schema.prisma'), SCHEMA);
  return { dir, schemaPath: path.join(dir, 'schema.prisma'), dbPath: path.join(dir, 'dev.db') };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Starts the engine server as the client would and waits for /status.
 * @param {{schemaPath: string, dbPath: string}} workspace
 * @param {{args?: string[], env?: Record<string, string>, rawFlag?: boolean}} [options]
 */
export async function startEngine(workspace, { args = [], env = {}, rawFlag = true } = {}) {
  const port = await freePort();
  const flags = ['--enable-metrics', ...(rawFlag ? ['--enable-raw-queries'] : [])];
  const child = spawn(process.execPath, [BIN, '-p', String(port), ...flags, ...args], {
    env: { ...process.env, PRISMA_DML_PATH: workspace.schemaPath, DATABASE_URL: `file:${workspace.dbPath}`, RUST_LOG: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`engine exited early (${child.exitCode}): ${stderr}`);
    try {
      const response = await fetch(`${url}/status`);
      if (response.ok) break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const engine = {
    url,
    child,
    get stderr() { return stderr; },
    /** @param {string} pathname @param {unknown} [body] @param {Record<string, string>} [headers] */
    async post(pathname, body, headers = {}) {
      const response = await fetch(`${url}${pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      return { status: response.status, text, json };
    },
    /** @param {string} query @param {string} [txId] */
    graphql(query, txId) {
      return engine.post('/', { query, variables: {} }, txId ? { 'X-transaction-id': txId } : {});
    },
    /** @param {NodeJS.Signals} [signal] */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
  return engine;
}

/** Creates the test tables through the engine's own raw-query path. @param {Awaited<ReturnType<typeof startEngine>>} engine */
export async function createTables(engine) {
  for (const sql of DDL) {
    const reply = await engine.graphql(`mutation { result: executeRaw(query: ${JSON.stringify(sql)}, parameters: "[]") }`);
    if (reply.json?.errors) throw new Error(reply.text);
  }
}
