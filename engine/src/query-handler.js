import { ProtocolError, knownError, queryErrorBody, withSchemaErrorCodes } from './errors.js';
import { translateOperation, toGraphqlResult } from './graphql-protocol.js';
import { InputRejected, READ_ACTIONS, validateBatchTransaction, validateOperation } from './json-protocol.js';
import { AcquisitionTimeout } from './transactions.js';
import { EngineUnavailableError } from './wasm-engine.js';

/**
 * @typedef {{status: number, body: string}} Reply  body is JSON text
 */

/**
 * POST / — one operation or a batch, in the GraphQL protocol (Prisma Client Python) or the JSON
 * protocol (Prisma's JS tooling), outside or inside an interactive transaction.
 *
 * A write outside an interactive transaction waits for the writer (transactions.js, the writer
 * slot) and for SQLite's write lock at most `maxWaitMs` in all (the request's x-max-wait-ms
 * header, else ENGINE_BUSY_TIMEOUT_MS). When that runs out it is answered 503, "database is
 * locked", and nothing of it was written, so the client may send it again.
 */
export class QueryHandler {
  /**
   * @param {{host: import('./wasm-engine.js').EngineHost, transactions: import('./transactions.js').TransactionManager,
   *          metrics: import('./metrics.js').Metrics, modelNames: Set<string>, rawQueries: boolean,
   *          defaultMaxWaitMs: number}} deps
   */
  constructor({ host, transactions, metrics, modelNames, rawQueries, defaultMaxWaitMs }) {
    this.defaultMaxWaitMs = defaultMaxWaitMs;
    this.rawQueries = rawQueries;
    this.host = host;
    this.transactions = transactions;
    this.metrics = metrics;
    this.modelNames = modelNames;
  }

  /**
   * @param {unknown} request parsed JSON body
   * @param {string | undefined} txId X-transaction-id header
   * @param {{maxWaitMs?: number}} [limits] x-max-wait-ms header
   * @returns {Promise<Reply>}
   */
  async handle(request, txId, { maxWaitMs = this.defaultMaxWaitMs } = {}) {
    const deadline = Date.now() + maxWaitMs;
    let plan;
    try {
      plan = this.#plan(request);
    } catch (error) {
      if (error instanceof ProtocolError) return unprocessable(error.message);
      if (error instanceof InputRejected) {
        const message = `Data validation error \`${error.message}\``;
        return { status: 200, body: JSON.stringify(queryErrorBody(message, knownError('P2007', message, { database_error: error.message }))) };
      }
      // translation and validation recurse over the input: a stack overflow means hostile nesting
      if (error instanceof RangeError) return unprocessable('The request is nested too deeply');
      throw error;
    }

    if (!this.rawQueries && plan.hasRaw) {
      const message = 'Raw queries are disabled: start the engine with --enable-raw-queries';
      return { status: 200, body: JSON.stringify(queryErrorBody(message, { is_panic: false, message })) };
    }

    let transaction;
    if (txId !== undefined) {
      const found = this.transactions.forQuery(txId);
      if ('problem' in found) {
        const { detail, userFacing } = found.problem;
        return { status: 200, body: JSON.stringify(queryErrorBody(detail, userFacing)) };
      }
      transaction = found.entry;
    }

    const started = performance.now();
    this.metrics.addGauge('prisma_client_queries_active', 1);
    /** @type {(() => void) | undefined} */
    let releaseWriter;
    /** @type {{connection: import('./sqlite-connection.js').SqliteConnection, scope: import('./sqlite-connection.js').WaitScope} | undefined} */
    let waiting;
    try {
      if (transaction !== undefined) {
        const { instance } = transaction;
        return this.#answer(plan, await instance.call(() => instance.writer.query(plan.json, '{}', txId)));
      }
      const instance = await this.host.instance();
      if (plan.isRead) return this.#answer(plan, await instance.call(() => instance.reader.query(plan.json, '{}', undefined)));
      if (plan.isRawQuery) {
        // queryRaw may read or write. Tried on the reader first (query_only: a write is refused
        // there before it does anything), so that raw reads, like every read, never queue for the writer.
        const output = await instance.call(() => instance.reader.query(plan.json, '{}', undefined));
        if (!READ_ONLY_REFUSAL.test(output)) return this.#answer(plan, output);
      }
      try {
        releaseWriter = await this.transactions.acquireWriter(instance, Math.max(0, deadline - Date.now()));
      } catch (error) {
        if (error instanceof AcquisitionTimeout) return lockTimeout(maxWaitMs);
        throw new EngineUnavailableError('The query engine was restarted while the write waited for its turn');
      }
      waiting = { connection: instance.writerConnection, scope: instance.writerConnection.openWaitScope(deadline) };
      const output = await instance.call(() => instance.writer.query(plan.json, '{}', undefined));
      // A statement refused with SQLITE_BUSY made the whole request fail: nothing was written.
      if (waiting.scope.gaveUp && output.startsWith('{"errors"')) return lockTimeout(maxWaitMs);
      return this.#answer(plan, output);
    } finally {
      waiting?.connection.closeWaitScope(waiting.scope);
      releaseWriter?.();
      this.metrics.addGauge('prisma_client_queries_active', -1);
      this.metrics.increment('prisma_client_queries_total', plan.operationCount);
      this.metrics.observe('prisma_client_queries_duration_histogram_ms', performance.now() - started);
    }
  }

  /** @param {{reshape: (output: string) => string}} plan @param {string} output @returns {Reply} */
  #answer(plan, output) {
    return { status: 200, body: plan.reshape(withSchemaErrorCodes(output)) };
  }

  /**
   * @param {unknown} request
   * @returns {{json: string, isRead: boolean, isRawQuery?: boolean, hasRaw: boolean, operationCount: number,
   *            reshape: (output: string) => string}}
   */
  #plan(request) {
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      throw new ProtocolError('The request body must be a JSON object');
    }
    const body = /** @type {Record<string, unknown>} */ (request);
    if ('batch' in body) return this.#planBatch(body);
    if (typeof body.query === 'string') {
      const op = translateOperation(body.query, asVariables(body.variables), this.modelNames);
      return {
        json: op.json, isRead: op.isRead, isRawQuery: op.action === 'queryRaw', hasRaw: isRaw(op.action), operationCount: 1,
        reshape: (output) => toGraphqlResult(output, op.alias),
      };
    }
    if (typeof body.action === 'string') {
      validateOperation(body, this.modelNames);
      return {
        json: JSON.stringify(body), isRead: isJsonRead(body), isRawQuery: body.action === 'queryRaw', hasRaw: isRaw(body.action),
        operationCount: 1, reshape: (output) => output,
      };
    }
    throw new ProtocolError('Expected a GraphQL request ({"query": ...}), a JSON-protocol request ({"action": ...}) or a batch');
  }

  /** @param {Record<string, unknown>} body */
  #planBatch(body) {
    const items = body.batch;
    if (!Array.isArray(items) || items.length === 0) throw new ProtocolError('"batch" must be a non-empty array');
    const isJsonProtocol = items.every((item) => item && typeof item === 'object' && typeof item.action === 'string');
    if (isJsonProtocol) {
      for (const item of items) validateOperation(item, this.modelNames);
      validateBatchTransaction(body.transaction);
      const transactional = body.transaction !== undefined && body.transaction !== null && body.transaction !== false;
      return {
        json: JSON.stringify(body), isRead: !transactional && items.every(isJsonRead),
        hasRaw: items.some((item) => isRaw(item.action)), operationCount: items.length, reshape: (/** @type {string} */ output) => output,
      };
    }
    const operations = items.map((item) => {
      if (!item || typeof item !== 'object' || typeof item.query !== 'string') {
        throw new ProtocolError('Every batch item must be {"query": "...", "variables": {...}}');
      }
      return translateOperation(item.query, asVariables(item.variables), this.modelNames);
    });
    const transactional = body.transaction === true;
    const isolationLevel = body.isolationLevel ?? body.isolation_level;
    if (isolationLevel !== undefined && isolationLevel !== null && typeof isolationLevel !== 'string') {
      throw new ProtocolError('"isolationLevel" must be a string');
    }
    const transaction = transactional ? (isolationLevel ? `{"isolationLevel":${JSON.stringify(isolationLevel)}}` : '{}') : null;
    const json = `{"batch":[${operations.map((op) => op.json).join(',')}]${transaction ? `,"transaction":${transaction}` : ''}}`;
    return {
      json,
      isRead: !transactional && operations.every((op) => op.isRead),
      hasRaw: operations.some((op) => isRaw(op.action)),
      operationCount: operations.length,
      reshape: (/** @type {string} */ output) => reshapeBatch(output, operations.map((op) => op.alias)),
    };
  }
}

/** @param {unknown} variables */
function asVariables(variables) {
  if (variables === undefined || variables === null) return {};
  if (typeof variables !== 'object' || Array.isArray(variables)) throw new ProtocolError('"variables" must be an object');
  return /** @type {Record<string, unknown>} */ (variables);
}

/** @param {unknown} action */
function isRaw(action) {
  return action === 'queryRaw' || action === 'executeRaw';
}

/** @param {any} body */
function isJsonRead(body) {
  return READ_ACTIONS.has(body.action);
}

/**
 * `{"batchResult":[r1, r2, ...]}` -> each result reshaped with its alias. Split on the text so that
 * numbers keep every digit.
 * @param {string} output @param {string[]} aliases
 */
function reshapeBatch(output, aliases) {
  const prefix = '{"batchResult":[';
  if (!output.startsWith(prefix)) return output; // a batch-level error
  const items = splitTopLevelArray(output, prefix.length - 1);
  if (!items || items.length !== aliases.length) return output;
  return `{"batchResult":[${items.map((item, index) => toGraphqlResult(item, aliases[index])).join(',')}]}`;
}

/**
 * Splits the JSON array starting at `start` into the text of its elements.
 * @param {string} text @param {number} start index of '['
 */
function splitTopLevelArray(text, start) {
  const items = [];
  let depth = 0;
  let inString = false;
  let itemStart = start + 1;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        if (i > itemStart) items.push(text.slice(itemStart, i));
        return items;
      }
    } else if (c === ',' && depth === 1) {
      items.push(text.slice(itemStart, i));
      itemStart = i + 1;
    }
  }
  return null;
}

// What SQLite says when the reader connection (PRAGMA query_only) is asked to change something.
const READ_ONLY_REFUSAL = /^\{"errors".*attempt to write a readonly database/s;

/**
 * A write that could not get SQLite's write lock (or its turn on the writer) within its max wait:
 * 503, nothing written. P1008 is Prisma's "Operations timed out".
 * @param {number} maxWaitMs
 * @returns {Reply}
 */
function lockTimeout(maxWaitMs) {
  const message = `Operations timed out after ${maxWaitMs} ms: the database is locked by another connection; nothing was written`;
  return { status: 503, body: JSON.stringify(queryErrorBody(message, knownError('P1008', message, { time: `${maxWaitMs} ms` }))) };
}

/** The Rust server's answer to a body it cannot read: 422 with a user-facing error. @param {string} message */
export function unprocessable(message) {
  const error = knownError('P2009', `Failed to validate the query: ${message}`, { query_validation_error: message, query_position: '' });
  return { status: 422, body: JSON.stringify({ ...error, errors: [{ error: message, user_facing_error: error }] }) };
}
