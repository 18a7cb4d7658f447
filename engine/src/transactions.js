import { TransactionProblem, statusForTransactionError } from './errors.js';

const DEFAULT_MAX_WAIT_MS = 2000;
const DEFAULT_TIMEOUT_MS = 5000;
const CLOSED_TRANSACTIONS_REMEMBERED = 10_000;
// The wasm engine runs its own timers for max_wait and timeout. If its max_wait fired, it would
// drop a start that is still queued on the adapter's connection mutex, and that start would later
// BEGIN a transaction nobody owns. So this manager enforces both limits itself and gives the wasm
// engine limits it never reaches first.
const WASM_LIMIT_HEADROOM_MS = 60_000;

/**
 * @typedef {object} TransactionEntry
 * @property {string} id
 * @property {import('./wasm-engine.js').EngineInstance} instance
 * @property {number} generation
 * @property {number} startedAt
 * @property {number} timeoutMs
 * @property {'open' | 'committed' | 'rolled back' | 'expired' | 'lost'} state
 * @property {NodeJS.Timeout | undefined} timer
 * @property {() => void} releaseSlot
 */

/**
 * A FIFO slot of size one per writer connection: an interactive transaction holds it from start to
 * end, a write or write batch outside transactions for its one request. So every use of the writer
 * waits in one queue, each for at most its own max wait, and while a request holds the slot it
 * alone uses the writer connection (its lock-wait deadline is the connection's wait scope).
 */
class TransactionSlot {
  constructor() {
    this.busy = false;
    /** @type {Array<{grant: () => void, fail: (error: Error) => void}>} */
    this.waiters = [];
  }

  /** @param {number} maxWaitMs @returns {Promise<() => void>} resolves with the release function */
  acquire(maxWaitMs) {
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => { clearTimeout(timer); resolve(this.#releaser()); },
        fail: (/** @type {Error} */ error) => { clearTimeout(timer); reject(error); },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new AcquisitionTimeout());
      }, maxWaitMs);
      this.waiters.push(waiter);
    });
  }

  #releaser() {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.busy = false;
    };
  }

  /** @param {Error} error */
  failAll(error) {
    for (const waiter of this.waiters.splice(0)) waiter.fail(error);
  }
}

export class AcquisitionTimeout extends Error {}
export class InstanceReplaced extends Error {}

/**
 * Interactive transactions: ids, limits and states, so that the wasm engine is only ever called
 * with a transaction id it knows and that is still open (an unknown id panics inside wasm).
 */
export class TransactionManager {
  /**
   * @param {import('./wasm-engine.js').EngineHost} host
   * @param {import('./metrics.js').Metrics} metrics
   * @param {import('./logger.js').Logger} logger
   */
  constructor(host, metrics, logger) {
    this.host = host;
    this.metrics = metrics;
    this.logger = logger;
    /** @type {Map<string, TransactionEntry>} */
    this.entries = new Map();
    /** @type {Map<number, TransactionSlot>} */
    this.slots = new Map();
    host.onReplaced((generation) => this.#forgetInstancesBefore(generation));
  }

  /** @param {number} generation */
  #slotFor(generation) {
    let slot = this.slots.get(generation);
    if (!slot) {
      slot = new TransactionSlot();
      this.slots.set(generation, slot);
    }
    return slot;
  }

  /** @param {number} generation the generation now serving */
  #forgetInstancesBefore(generation) {
    for (const [oldGeneration, slot] of this.slots) {
      if (oldGeneration < generation) {
        slot.failAll(new InstanceReplaced());
        this.slots.delete(oldGeneration);
      }
    }
    for (const entry of this.entries.values()) {
      if (entry.generation < generation && entry.state === 'open') this.#close(entry, 'lost');
    }
  }

  /**
   * The writer slot of `instance` for one request outside interactive transactions.
   * @param {{generation: number}} instance
   * @param {number} maxWaitMs
   * @returns {Promise<() => void>} the release function; rejects with AcquisitionTimeout or InstanceReplaced
   */
  acquireWriter(instance, maxWaitMs) {
    return this.#slotFor(instance.generation).acquire(maxWaitMs);
  }

  /**
   * `max_wait` bounds the whole wait to start: for the writer slot AND for SQLite's write lock
   * (BEGIN IMMEDIATE, which another process may hold). Running out of it is P2028 "Unable to
   * start a transaction in the given time" (504): nothing was started.
   * @param {unknown} options parsed body of POST /transaction/start
   * @returns {Promise<{status: number, body: unknown}>}
   */
  async start(options) {
    const parsed = parseOptions(options);
    if ('error' in parsed) return { status: 400, body: { errors: [{ error: parsed.error, user_facing_error: { is_panic: false, message: parsed.error } }] } };
    const { maxWaitMs, timeoutMs, isolationLevel } = parsed;
    const deadline = Date.now() + maxWaitMs;

    const instance = await this.host.instance();
    let releaseSlot;
    try {
      releaseSlot = await this.#slotFor(instance.generation).acquire(maxWaitMs);
    } catch (error) {
      const problem = error instanceof AcquisitionTimeout
        ? TransactionProblem.acquisitionTimeout()
        : TransactionProblem.unknown('The query engine was restarted while the transaction waited to start');
      return { status: problem.status, body: problem.userFacing };
    }

    const wasmOptions = JSON.stringify({
      max_wait: maxWaitMs + WASM_LIMIT_HEADROOM_MS,
      timeout: timeoutMs + WASM_LIMIT_HEADROOM_MS,
      ...(isolationLevel === undefined ? {} : { isolation_level: isolationLevel }),
    });
    let reply;
    const scope = instance.writerConnection.openWaitScope(deadline);
    try {
      reply = JSON.parse(await instance.call(() => instance.writer.startTransaction(wasmOptions, '{}')));
    } catch (error) {
      releaseSlot();
      throw error;
    } finally {
      instance.writerConnection.closeWaitScope(scope);
    }
    if (typeof reply?.id !== 'string') {
      releaseSlot();
      if (scope.gaveUp) {
        // BEGIN IMMEDIATE met another connection's write lock until max_wait ran out
        const problem = TransactionProblem.acquisitionTimeout();
        return { status: problem.status, body: problem.userFacing };
      }
      return { status: statusForTransactionError(reply), body: reply };
    }

    /** @type {TransactionEntry} */
    const entry = {
      id: reply.id, instance, generation: instance.generation, startedAt: Date.now(), timeoutMs,
      state: 'open', timer: undefined, releaseSlot,
    };
    entry.timer = setTimeout(() => { void this.#expire(entry); }, timeoutMs);
    entry.timer.unref();
    this.entries.set(entry.id, entry);
    this.metrics.increment('query_engine_transactions_total');
    this.metrics.addGauge('query_engine_transactions_open', 1);
    return { status: 200, body: { id: entry.id } };
  }

  /**
   * The open transaction a query names, or the error to answer with.
   * @param {string} id
   * @returns {{entry: TransactionEntry} | {problem: import('./errors.js').TransactionErrorInfo}}
   */
  forQuery(id) {
    const entry = this.entries.get(id);
    if (!entry) return { problem: TransactionProblem.notFound() };
    const problem = this.#problemIfClosed(entry, 'A query');
    return problem ? { problem } : { entry };
  }

  /** @param {string} id */
  commit(id) {
    return this.#finish(id, 'commit');
  }

  /** @param {string} id */
  rollback(id) {
    return this.#finish(id, 'rollback');
  }

  /**
   * @param {string} id
   * @param {'commit' | 'rollback'} action
   * @returns {Promise<{status: number, body: unknown}>}
   */
  async #finish(id, action) {
    const entry = this.entries.get(id);
    if (!entry) {
      const problem = TransactionProblem.notFound();
      return { status: problem.status, body: problem.userFacing };
    }
    const problem = this.#problemIfClosed(entry, action === 'commit' ? 'A commit' : 'A rollback');
    if (problem) return { status: problem.status, body: problem.userFacing };

    this.#close(entry, action === 'commit' ? 'committed' : 'rolled back', { keepSlot: true });
    try {
      const invoke = action === 'commit'
        ? () => entry.instance.writer.commitTransaction(entry.id, '{}')
        : () => entry.instance.writer.rollbackTransaction(entry.id, '{}');
      const reply = JSON.parse(await entry.instance.call(invoke));
      if (reply && typeof reply === 'object' && 'error_code' in reply) {
        return { status: statusForTransactionError(reply), body: reply };
      }
      return { status: 200, body: {} };
    } finally {
      entry.releaseSlot();
    }
  }

  /** @param {TransactionEntry} entry */
  async #expire(entry) {
    if (entry.state !== 'open') return;
    this.#close(entry, 'expired', { keepSlot: true });
    this.logger.warn('interactive transaction expired and was rolled back', { tx_id: entry.id, timeout_ms: entry.timeoutMs });
    try {
      await entry.instance.call(() => entry.instance.writer.rollbackTransaction(entry.id, '{}'));
    } catch (error) {
      this.logger.error('rolling back an expired transaction failed', { tx_id: entry.id, error: String(error) });
    } finally {
      entry.releaseSlot();
    }
  }

  /**
   * @param {TransactionEntry} entry
   * @param {TransactionEntry['state']} state
   * @param {{keepSlot?: boolean}} [options]
   */
  #close(entry, state, { keepSlot = false } = {}) {
    if (entry.state !== 'open') return;
    entry.state = state;
    clearTimeout(entry.timer);
    this.metrics.addGauge('query_engine_transactions_open', -1);
    if (!keepSlot) entry.releaseSlot();
    // Remember closed ids for a while so that late calls get "already closed", not "not found".
    while (this.entries.size > CLOSED_TRANSACTIONS_REMEMBERED) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      const old = /** @type {TransactionEntry} */ (this.entries.get(oldest));
      if (old.state === 'open') break;
      this.entries.delete(oldest);
    }
  }

  /**
   * @param {TransactionEntry} entry
   * @param {string} what "A query", "A commit", "A rollback"
   */
  #problemIfClosed(entry, what) {
    if (entry.state === 'open' && entry.instance.poisoned) this.#close(entry, 'lost');
    if (entry.state === 'open' && Date.now() - entry.startedAt > entry.timeoutMs) {
      void this.#expire(entry);
    }
    switch (entry.state) {
      case 'open':
        return undefined;
      case 'expired': {
        const elapsed = Date.now() - entry.startedAt;
        return TransactionProblem.closed(`${what} cannot be executed on an expired transaction. The timeout for this transaction was ${entry.timeoutMs} ms, however ${elapsed} ms passed since the start of the transaction. Consider increasing the interactive transaction timeout or doing less work in the transaction.`);
      }
      case 'committed':
        return TransactionProblem.closed(`${what} cannot be executed on a committed transaction.`);
      case 'rolled back':
        return TransactionProblem.closed(`${what} cannot be executed on a transaction that was rolled back.`);
      case 'lost':
        return TransactionProblem.closed(`${what} cannot be executed: the query engine panicked and was restarted, so the transaction was rolled back.`);
      default:
        return TransactionProblem.unknown(`unexpected transaction state ${entry.state}`);
    }
  }

  /** Rolls back every open transaction (shutdown). */
  async rollbackAll() {
    const open = [...this.entries.values()].filter((entry) => entry.state === 'open');
    await Promise.allSettled(open.map((entry) => this.rollback(entry.id)));
  }
}

/**
 * @param {unknown} options
 * @returns {{maxWaitMs: number, timeoutMs: number, isolationLevel: string | undefined} | {error: string}}
 */
function parseOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return { error: 'The transaction options must be a JSON object' };
  }
  const record = /** @type {Record<string, unknown>} */ (options);
  const maxWaitMs = record.max_wait ?? DEFAULT_MAX_WAIT_MS;
  const timeoutMs = record.timeout ?? DEFAULT_TIMEOUT_MS;
  for (const [name, value] of [['max_wait', maxWaitMs], ['timeout', timeoutMs]]) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
      return { error: `"${name}" must be a whole number of milliseconds` };
    }
  }
  const isolationLevel = record.isolation_level ?? record.isolationLevel;
  if (isolationLevel !== undefined && isolationLevel !== null && typeof isolationLevel !== 'string') {
    return { error: '"isolation_level" must be a string' };
  }
  return {
    maxWaitMs: /** @type {number} */ (maxWaitMs),
    timeoutMs: /** @type {number} */ (timeoutMs),
    isolationLevel: isolationLevel ?? undefined,
  };
}
