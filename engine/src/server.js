import http from 'node:http';
import { parseOptions } from './options.js';
import { readDatamodel, resolveDatasource } from './datasource.js';
import { Logger, parseLevel, requestContext, requestIdFrom } from './logger.js';
import { Metrics } from './metrics.js';
import { EngineHost, EnginePanicError, EngineUnavailableError, isWasmTrap } from './wasm-engine.js';
import { TransactionManager } from './transactions.js';
import { QueryHandler, unprocessable } from './query-handler.js';
import { panicError, queryErrorBody } from './errors.js';

/** @param {string[]} argv */
export async function runServer(argv) {
  const options = parseOptions(argv, process.env);
  const logger = new Logger({ level: parseLevel(process.env.RUST_LOG), json: process.env.RUST_LOG_FORMAT !== 'devel' });
  const metrics = new Metrics();

  const datamodel = options.datamodel ?? readDatamodel(options.schemaPath);
  const datasource = resolveDatasource({ schemaPath: options.schemaPath, datamodel, env: process.env });
  const host = new EngineHost({
    datamodel, filePath: datasource.filePath, busyTimeoutMs: options.busyTimeoutMs, synchronous: options.synchronous,
    logQueries: options.logQueries, slowQueryMs: options.slowQueryMs, logLevel: parseLevel(process.env.RUST_LOG),
  }, { metrics, logger });

  // A panic inside wasm can surface outside any request (timers, microtasks the engine schedules).
  // It poisons the instance, which is replaced on the next call; anything else is a bug to report,
  // and one bad request must not take the server down.
  process.on('uncaughtException', (error) => onStrayError(error));
  process.on('unhandledRejection', (error) => onStrayError(error));
  function onStrayError(/** @type {unknown} */ error) {
    if (isWasmTrap(error)) host.reportTrap(/** @type {Error} */ (error));
    logger.error('unhandled error', { error: String(/** @type {Error} */ (error)?.stack ?? error) });
  }

  await host.start();
  const transactions = new TransactionManager(host, metrics, logger);
  const queries = new QueryHandler({
    host, transactions, metrics, modelNames: modelNamesOf(datamodel), rawQueries: options.enableRawQueries,
    defaultMaxWaitMs: options.busyTimeoutMs,
  });
  const app = new EngineServer({ options, host, transactions, queries, metrics, logger });
  await app.listen();
  logger.info(`Started query engine http server on http://${options.host}:${app.port}`, { ip: options.host, port: String(app.port) });

  exitWithParent(logger);

  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(signal, () => {
      app.close().then(() => process.exit(0), (error) => {
        logger.error('shutdown failed', { error: String(error) });
        process.exit(1);
      });
    });
  }
}

/**
 * The engine belongs to the process that started it (a uvicorn worker, a `garage` command): when
 * that process dies, even by SIGKILL, the engine exits too, at once, so that it never holds the
 * database, its write lock or an open transaction for nobody (SQLite rolls back what the exiting
 * process had not committed). Noticed by the parent pid changing (re-parented to init or a
 * subreaper); the Python side also asks the kernel for SIGKILL on parent death (garage/db/__init__.py).
 * Not watched when started by init itself (pid 1: a daemon of its own).
 * @param {import('./logger.js').Logger} logger
 * @param {number} [intervalMs]
 */
export function exitWithParent(logger, intervalMs = 100) {
  const parent = process.ppid;
  if (parent <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    logger.error('the process that started the query engine exited; exiting too', { parent_pid: String(parent) });
    process.exit(1);
  }, intervalMs);
  timer.unref();
}

/** @param {string} datamodel */
export function modelNamesOf(datamodel) {
  const names = new Set();
  for (const match of datamodel.replace(/\/\/[^\n]*/g, '').matchAll(/^\s*model\s+(\w+)\s*\{/gm)) names.add(match[1]);
  return names;
}

export class EngineServer {
  /**
   * @param {{options: import('./options.js').ServerOptions, host: EngineHost, transactions: TransactionManager,
   *          queries: QueryHandler, metrics: Metrics, logger: Logger}} deps
   */
  constructor({ options, host, transactions, queries, metrics, logger }) {
    this.options = options;
    this.host = host;
    this.transactions = transactions;
    this.queries = queries;
    this.metrics = metrics;
    this.logger = logger;
    this.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => { void this.#routeWithRequestId(req, res); });
    this.port = 0;
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        const address = this.server.address();
        this.port = typeof address === 'object' && address ? address.port : this.options.port;
        resolve(undefined);
      });
    });
  }

  async close() {
    this.server.close();
    this.server.closeAllConnections();
    await this.transactions.rollbackAll();
    await this.host.stop();
  }

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
  async #route(req, res) {
    const started = process.hrtime.bigint();
    try {
      const url = new URL(req.url ?? '/', 'http://engine');
      const reply = await this.#dispatch(req, url);
      const elapsedMicros = Number((process.hrtime.bigint() - started) / 1000n);
      res.writeHead(reply.status, {
        'content-type': reply.contentType ?? 'application/json',
        'content-length': Buffer.byteLength(reply.body),
        'x-elapsed': String(elapsedMicros),
      });
      res.end(reply.body);
    } catch (error) {
      this.#answerFailure(res, error);
    }
  }

  /** The request's work runs with its X-Request-ID known to the logger (query log lines carry it). */
  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
  #routeWithRequestId(req, res) {
    return requestContext.run(requestIdFrom(req.headers['x-request-id']), () => this.#route(req, res));
  }

  /**
   * @param {http.IncomingMessage} req @param {URL} url
   * @returns {Promise<{status: number, body: string, contentType?: string}>}
   */
  async #dispatch(req, url) {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/status') return json(200, { status: 'ok' });
    if (path.startsWith('/metrics') && (method === 'GET' || method === 'POST') && this.options.enableMetrics) {
      return this.#metrics(req, url);
    }
    if (method === 'POST' && path.startsWith('/transaction')) return this.#transaction(req, path);
    if (method === 'POST' && path === '/') {
      const body = await this.#readJson(req);
      if (!body.ok) return unprocessable(body.error);
      const txHeader = req.headers['x-transaction-id'];
      const txId = Array.isArray(txHeader) ? txHeader[0] : txHeader;
      if (this.options.debug && req.headers['x-debug-non-fatal'] !== undefined) return this.#debugPanic();
      const maxWait = maxWaitHeader(req);
      if (maxWait === null) return unprocessable('x-max-wait-ms must be a whole number of milliseconds');
      return this.queries.handle(body.value, txId, maxWait === undefined ? {} : { maxWaitMs: maxWait });
    }
    if (method === 'GET' && path === '/server_info') {
      return json(200, { commit: this.options.commit, version: this.options.version, primary_connector: 'sqlite' });
    }
    return { status: 404, body: '' };
  }

  /** @param {http.IncomingMessage} req @param {string} path */
  async #transaction(req, path) {
    const sections = path.split('/');
    if (sections.length === 3 && sections[2] === 'start') {
      const body = await this.#readJson(req, { allowEmpty: true });
      if (!body.ok) return json(400, queryErrorBody(body.error, { is_panic: false, message: body.error }));
      const reply = await this.transactions.start(body.value ?? {});
      return json(reply.status, reply.body);
    }
    if (sections.length === 4 && (sections[3] === 'commit' || sections[3] === 'rollback')) {
      await drain(req, this.options.maxBodyBytes);
      const id = decodeURIComponent(sections[2]);
      const reply = sections[3] === 'commit' ? await this.transactions.commit(id) : await this.transactions.rollback(id);
      return json(reply.status, reply.body);
    }
    return { status: 400, body: `wrong transaction handler path: ${path}`, contentType: 'text/plain' };
  }

  /** @param {http.IncomingMessage} req @param {URL} url */
  async #metrics(req, url) {
    const body = await this.#readJson(req, { allowEmpty: true });
    /** @type {Record<string, string>} */
    const labels = {};
    if (body.ok && body.value && typeof body.value === 'object' && !Array.isArray(body.value)) {
      for (const [key, value] of Object.entries(body.value)) labels[key] = String(value);
    }
    if (url.searchParams.get('format') === 'json') return json(200, this.metrics.toJson(labels));
    return { status: 200, body: this.metrics.toPrometheus(labels), contentType: 'text/plain; version=0.0.4' };
  }

  /**
   * Debug mode only: makes the wasm engine really panic (a query naming a transaction id it never
   * issued traps inside wasm), so tests can watch the instance get replaced.
   */
  async #debugPanic() {
    const instance = await this.host.instance();
    const model = [...this.queries.modelNames][0];
    const query = JSON.stringify({ modelName: model, action: 'findMany', query: { arguments: { take: 1 }, selection: { $scalars: true } } });
    await instance.call(() => instance.writer.query(query, '{}', 'x'));
    return json(200, {});
  }

  /**
   * @param {http.IncomingMessage} req
   * @param {{allowEmpty?: boolean}} [options]
   * @returns {Promise<{ok: true, value: any} | {ok: false, error: string}>}
   */
  async #readJson(req, { allowEmpty = false } = {}) {
    const text = await readBody(req, this.options.maxBodyBytes);
    if (text === null) return { ok: false, error: `The request body is larger than ${this.options.maxBodyBytes} bytes` };
    if (text.trim() === '') return allowEmpty ? { ok: true, value: undefined } : { ok: false, error: 'The request body is empty' };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      return { ok: false, error: `The request body is not valid JSON: ${/** @type {Error} */ (error).message}` };
    }
  }

  /** @param {http.ServerResponse} res @param {unknown} error */
  #answerFailure(res, error) {
    const isPanic = error instanceof EnginePanicError;
    const isUnavailable = error instanceof EngineUnavailableError;
    const message = error instanceof Error ? error.message : String(error);
    if (!isPanic && !isUnavailable) this.logger.error('request failed', { error: String(/** @type {Error} */ (error)?.stack ?? error) });
    const body = JSON.stringify(queryErrorBody(message, isPanic ? panicError(message) : { is_panic: false, message }));
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(isUnavailable ? 503 : 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/**
 * x-max-wait-ms: how long a write may wait for the writer and SQLite's write lock.
 * @param {http.IncomingMessage} req
 * @returns {number | undefined | null} undefined when absent, null when malformed
 */
function maxWaitHeader(req) {
  const raw = req.headers['x-max-wait-ms'];
  if (raw === undefined) return undefined;
  const value = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isInteger(value) && value >= 0 && value <= 2 ** 31 - 1 ? value : null;
}

/** @param {number} status @param {unknown} value */
function json(status, value) {
  return { status, body: JSON.stringify(value) };
}

/**
 * @param {http.IncomingMessage} req @param {number} limit
 * @returns {Promise<string | null>} null when the body exceeds the limit
 */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** @param {http.IncomingMessage} req @param {number} limit */
async function drain(req, limit) {
  await readBody(req, limit);
}
