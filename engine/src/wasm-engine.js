import fs from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { bindAdapter } from '@prisma/driver-adapter-utils';
import { AdapterErrorRegistry } from './adapter-errors.js';
import { InstrumentedConnection } from './instrumented-connection.js';
import { SqliteAdapter } from './sqlite-adapter.js';

const require = createRequire(import.meta.url);
const GLUE_PATH = require.resolve('@prisma/query-engine-wasm/sqlite/query_engine_bg.js');
const WASM_PATH = require.resolve('@prisma/query-engine-wasm/sqlite/query_engine_bg.wasm');

/** Raised for calls that were in flight when the wasm instance panicked. */
export class EnginePanicError extends Error {
  name = 'EnginePanicError';
}

/** The engine is being replaced or shut down and cannot take the call. */
export class EngineUnavailableError extends Error {
  name = 'EngineUnavailableError';
}

/**
 * @typedef {object} EngineSettings
 * @property {string} datamodel
 * @property {string} filePath
 * @property {number} busyTimeoutMs
 * @property {string} synchronous
 * @property {boolean} logQueries
 * @property {number} slowQueryMs
 * @property {string} logLevel
 */

/**
 * The calls of one wasm QueryEngine this server makes (all but connect and disconnect answer JSON text).
 * @typedef {object} QueryEngineCalls
 * @property {(trace: string) => Promise<void>} connect
 * @property {(trace: string) => Promise<void>} disconnect
 * @property {(body: string, trace: string, txId: string | undefined) => Promise<string>} query
 * @property {(options: string, trace: string) => Promise<string>} startTransaction
 * @property {(txId: string, trace: string) => Promise<string>} commitTransaction
 * @property {(txId: string, trace: string) => Promise<string>} rollbackTransaction
 */

let compiledModule = /** @type {Promise<WebAssembly.Module> | undefined} */ (undefined);
let glueGeneration = 0;

/**
 * @typedef {{metrics: import('./metrics.js').Metrics, logger: import('./logger.js').Logger}} Observers
 */

/**
 * One instantiation of Prisma's wasm query engine, hosting two QueryEngines over two SQLite
 * connections: the writer (writes, batches, interactive transactions) and the reader (reads
 * outside transactions). In WAL mode the reader sees every committed write and never waits for
 * an open transaction on the writer, because the adapter serialises each connection on its own.
 * Made by `EngineInstance.start` only, so that every instance in use is connected.
 */
export class EngineInstance {
  /**
   * @param {number} generation
   * @param {EngineSettings} settings
   * @param {Observers} observers
   * @returns {Promise<EngineInstance>} connected
   */
  static async start(generation, settings, observers) {
    // The wasm-bindgen glue keeps its instance in module state, so each instance gets its own
    // copy of the glue module (a distinct specifier is a distinct ES module).
    const glueUrl = `${pathToFileURL(GLUE_PATH).href}?instance=${++glueGeneration}`;
    const glue = await import(glueUrl);
    compiledModule ??= WebAssembly.compile(fs.readFileSync(WASM_PATH));
    const wasm = await WebAssembly.instantiate(await compiledModule, { './query_engine_bg.js': glue });
    glue.__wbg_set_wasm(wasm.exports);

    const { metrics, logger } = observers;
    const { filePath, busyTimeoutMs, synchronous, logQueries, slowQueryMs } = settings;
    const observe = { metrics, logger, logQueries, slowQueryMs };
    const writerConnection = new InstrumentedConnection({ path: filePath, role: 'writer', busyTimeoutMs, synchronous }, observe);
    const readerConnection = new InstrumentedConnection({ path: filePath, role: 'reader', busyTimeoutMs, synchronous }, observe);
    await Promise.all([writerConnection.configure(), readerConnection.configure()]);
    metrics.increment('prisma_pool_connections_opened_total', 2);
    metrics.addGauge('prisma_pool_connections_open', 2);
    metrics.addGauge('prisma_pool_connections_idle', 2);

    const instance = new EngineInstance(generation, settings, observers, { glue, writerConnection, readerConnection });
    const { writer, reader } = instance;
    await Promise.all([instance.call(() => writer.connect('{}')), instance.call(() => reader.connect('{}'))]);
    return instance;
  }

  /**
   * @param {number} generation
   * @param {EngineSettings} settings
   * @param {Observers} observers
   * @param {{glue: any, writerConnection: InstrumentedConnection, readerConnection: InstrumentedConnection}} parts
   *   the wasm-bindgen glue module of this instance (untyped: generated code) and its two configured connections
   */
  constructor(generation, settings, observers, { glue, writerConnection, readerConnection }) {
    this.generation = generation;
    this.settings = settings;
    this.observers = observers;
    this.poisoned = false;
    /** @type {Error | undefined} */
    this.poisonCause = undefined;
    /** @type {Set<(error: Error) => void>} */
    this.pendingRejections = new Set();
    this.glue = glue;
    this.writerConnection = writerConnection;
    this.readerConnection = readerConnection;
    this.writerErrors = new AdapterErrorRegistry(observers.logger);
    this.readerErrors = new AdapterErrorRegistry(observers.logger);
    this.writer = this.#createQueryEngine(writerConnection, this.writerErrors);
    this.reader = this.#createQueryEngine(readerConnection, this.readerErrors);
  }

  /**
   * A wasm QueryEngine over `connection` whose answers carry the driver adapter's own errors
   * (adapter-errors.js): each of its calls runs through `errors`, which holds the adapter's errors.
   * @param {InstrumentedConnection} connection
   * @param {AdapterErrorRegistry} errors
   * @returns {QueryEngineCalls}
   */
  #createQueryEngine(connection, errors) {
    const adapter = bindAdapter(new SqliteAdapter(connection, this.observers.metrics));
    errors.attachTo(adapter);
    const { logger } = this.observers;
    const options = { datamodel: this.settings.datamodel, logLevel: this.settings.logLevel, logQueries: false };
    const engine = new this.glue.QueryEngine(options, (/** @type {string} */ event) => forwardEngineLog(logger, event), adapter);
    return {
      connect: (trace) => errors.around(() => engine.connect(trace)),
      disconnect: (trace) => errors.around(() => engine.disconnect(trace)),
      query: (body, trace, txId) => errors.around(() => engine.query(body, trace, txId)),
      startTransaction: (options, trace) => errors.around(() => engine.startTransaction(options, trace)),
      commitTransaction: (txId, trace) => errors.around(() => engine.commitTransaction(txId, trace)),
      rollbackTransaction: (txId, trace) => errors.around(() => engine.rollbackTransaction(txId, trace)),
    };
  }

  /**
   * Runs one call into wasm. A trap (WebAssembly.RuntimeError: the Rust code panicked) poisons the
   * instance; calls still pending on a poisoned instance would never settle, so they are rejected.
   * @template T
   * @param {() => Promise<T>} invoke
   * @returns {Promise<T>}
   */
  call(invoke) {
    if (this.poisoned) return Promise.reject(new EngineUnavailableError('The query engine instance was replaced'));
    return new Promise((resolve, reject) => {
      const rejectPending = (/** @type {Error} */ error) => reject(error);
      this.pendingRejections.add(rejectPending);
      let promise;
      try {
        promise = invoke();
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (value) => { this.pendingRejections.delete(rejectPending); resolve(value); },
        (error) => {
          this.pendingRejections.delete(rejectPending);
          if (isWasmTrap(error)) {
            this.poison(error);
            reject(new EnginePanicError(`The query engine panicked: ${error.message}`));
          } else {
            reject(error);
          }
        },
      );
    });
  }

  /** @param {Error} cause */
  poison(cause) {
    if (this.poisoned) return;
    this.poisoned = true;
    this.poisonCause = cause;
    this.observers.metrics.increment('query_engine_panics_total');
    for (const reject of this.pendingRejections) reject(new EnginePanicError(`The query engine panicked: ${cause.message}`));
    this.pendingRejections.clear();
  }

  async close() {
    if (!this.poisoned) {
      await Promise.allSettled([this.writer.disconnect('{}'), this.reader.disconnect('{}')]);
    }
    for (const connection of [this.writerConnection, this.readerConnection]) {
      if (connection.closed) continue;
      try {
        // A poisoned engine may have left a transaction open, and with it the write lock that the
        // replacement's writer needs: end it before closing.
        if (this.poisoned) await connection.abandonOpenTransaction();
        connection.close();
      } catch (error) {
        this.observers.logger.warn('closing a SQLite connection failed', { error: String(error) });
      }
      this.observers.metrics.increment('prisma_pool_connections_closed_total');
      this.observers.metrics.addGauge('prisma_pool_connections_open', -1);
      this.observers.metrics.addGauge('prisma_pool_connections_idle', -1);
    }
  }
}

/** @param {unknown} error */
export function isWasmTrap(error) {
  return error instanceof WebAssembly.RuntimeError
    || (error instanceof Error && /^RuntimeError: unreachable/.test(String(error.stack ?? '')));
}

/** @param {import('./logger.js').Logger} logger @param {string} event */
function forwardEngineLog(logger, event) {
  let parsed;
  try {
    parsed = JSON.parse(event);
  } catch {
    logger.info(String(event));
    return;
  }
  const level = String(parsed.level ?? 'info').toLowerCase();
  const { level: _level, message, module_path: target, ...fields } = parsed;
  logger.log(level, String(message ?? ''), fields, target ?? 'query_engine');
}

/**
 * Owns the current EngineInstance and replaces it when it is poisoned by a panic.
 */
export class EngineHost {
  /**
   * @param {EngineSettings} settings
   * @param {Observers} observers
   */
  constructor(settings, observers) {
    this.settings = settings;
    this.observers = observers;
    this.generation = 0;
    /** @type {EngineInstance | undefined} */
    this.current = undefined;
    /** @type {Promise<EngineInstance> | undefined} */
    this.replacing = undefined;
    this.stopped = false;
    /** @type {Array<(generation: number) => void>} */
    this.replacementListeners = [];
  }

  async start() {
    this.current = await this.#spawn();
  }

  #spawn() {
    return EngineInstance.start(++this.generation, this.settings, this.observers);
  }

  /** @returns {Promise<EngineInstance>} */
  async instance() {
    if (this.stopped) throw new EngineUnavailableError('The query engine is shutting down');
    if (this.current && !this.current.poisoned) return this.current;
    this.replacing ??= this.#replace();
    return this.replacing;
  }

  async #replace() {
    const old = this.current;
    try {
      await old?.close();
    } catch {
      // the poisoned instance's state is unknown; its connections are closed on a best-effort basis
    }
    try {
      const fresh = await this.#spawn();
      this.current = fresh;
      this.observers.logger.error('the query engine instance was replaced after a panic', {
        generation: fresh.generation, cause: String(old?.poisonCause ?? 'unknown'),
      });
      for (const listener of this.replacementListeners) listener(fresh.generation);
      return fresh;
    } finally {
      this.replacing = undefined;
    }
  }

  /** A trap surfaced outside any call (a timer or microtask inside wasm): poison the instance. @param {Error} error */
  reportTrap(error) {
    if (this.current && !this.current.poisoned) this.current.poison(error);
  }

  /** @param {(generation: number) => void} listener */
  onReplaced(listener) {
    this.replacementListeners.push(listener);
  }

  async stop() {
    this.stopped = true;
    await this.replacing?.catch(() => undefined);
    await this.current?.close();
  }
}
