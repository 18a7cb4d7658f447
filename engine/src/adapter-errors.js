// The driver adapter's own errors, passed through to the client instead of a bare P2036.
//
// When a call into the driver adapter throws (our SQLite connection failing a COMMIT or a BEGIN,
// e.g. SQLITE_FULL "database or disk is full"; a value the connection refuses), the binder of
// @prisma/driver-adapter-utils keeps the thrown error in the adapter's error registry and hands
// the wasm engine only its number: the engine answers P2036 "Error in external connector (id N)"
// with `meta: {id: N}`. Prisma's JS client looks N up in the registry and rethrows the original;
// a client over HTTP (Prisma Client Python) cannot, so this engine does it for them: every answer
// that names such an id gets the original error's message and SQLite code in it (P2036 and the
// envelope's shape stay as they were), and the entry is removed.
//
// The 5.17 registry itself never removes an entry (`consumeError` only reads), so every error it
// was given would stay in memory for as long as the engine runs. This registry removes an entry
// when an answer reports it, and drops any that no answer reports (should the engine ever not
// report an adapter error it was given, or one come from the engine's own timers) as soon as every
// call that was running when it was registered has finished: only those calls can report it. So it
// holds at most the errors of the calls in flight.

/**
 * @typedef {object} RegisteredError
 * @property {unknown} error
 * @property {number} lastCallStarted  the number of the latest call started when it was registered
 */

/** P2036 answers carry this; anything without it is left unread. */
const EXTERNAL_ERROR_CODE = '"error_code":"P2036"';

/**
 * Replaces the error registry of an adapter bound with `bindAdapter`: its wrappers call
 * `registerNewError(error)` when the adapter throws, Prisma's JS client calls `consumeError(id)`.
 */
export class AdapterErrorRegistry {
  /** @param {import('./logger.js').Logger} logger */
  constructor(logger) {
    this.logger = logger;
    /** @type {Map<number, RegisteredError>} */
    this.entries = new Map();
    this.callsStarted = 0;
    /** @type {Set<number>} numbers of the calls into the engine that have not finished */
    this.running = new Set();
  }

  /**
   * Takes over the registry of `boundAdapter` (the object `bindAdapter` returned): the binder's
   * wrappers reach the registry through that object, so its two methods are replaced.
   * @param {import('@prisma/driver-adapter-utils').ErrorCapturingDriverAdapter} boundAdapter
   */
  attachTo(boundAdapter) {
    const registry = /** @type {any} */ (boundAdapter.errorRegistry);
    if (typeof registry?.registerNewError !== 'function' || typeof registry?.consumeError !== 'function') {
      throw new Error('@prisma/driver-adapter-utils changed: the adapter error registry was not found');
    }
    registry.registerNewError = (/** @type {unknown} */ error) => this.registerNewError(error);
    registry.consumeError = (/** @type {number} */ id) => this.consumeError(id);
  }

  /** Errors kept now (reported by no answer yet). */
  get size() {
    return this.entries.size;
  }

  /**
   * Keeps `error` under the lowest free id (as the stock registry does), so ids stay as small as
   * the number of errors kept at once.
   * @param {unknown} error
   * @returns {number} the id the wasm engine reports
   */
  registerNewError(error) {
    let id = 0;
    while (this.entries.has(id)) id++;
    this.entries.set(id, { error, lastCallStarted: this.callsStarted });
    return id;
  }

  /**
   * The error registered under `id`, removed from the registry.
   * @param {number} id
   * @returns {import('@prisma/driver-adapter-utils').ErrorRecord | undefined}
   */
  consumeError(id) {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    this.entries.delete(id);
    return { error: entry.error };
  }

  /**
   * Runs one call into the engine this registry serves and returns its answer (JSON text) with
   * every P2036 explained (see `explain`); afterwards drops the errors no running call can still
   * report.
   * @template {string | void} T
   * @param {() => Promise<T>} invoke
   * @returns {Promise<T>}
   */
  async around(invoke) {
    const call = ++this.callsStarted;
    this.running.add(call);
    try {
      const answer = await invoke();
      return typeof answer === 'string' ? /** @type {T} */ (this.explain(answer)) : answer;
    } finally {
      this.running.delete(call);
      this.#dropUnreported();
    }
  }

  /**
   * Puts the original error of every P2036 in `output` (an engine answer, JSON) into it: the
   * user-facing message and the envelope's `error` text get the error's message and SQLite code
   * appended, `meta` gets `message`, `code` and `extended_code`; the entry is removed. Answers
   * without P2036 are returned as they are, unparsed.
   * @param {string} output
   * @returns {string}
   */
  explain(output) {
    if (!output.includes(EXTERNAL_ERROR_CODE)) return output;
    // P2036 appears as a transaction call's whole answer, in a query's `errors`, or in a batch
    // item's `errors`; anything else (a successful result that merely contains the text) is left alone.
    const isErrorAnswer = output.startsWith('{"errors"') || output.startsWith('{"is_panic"')
      || (output.startsWith('{"batchResult"') && output.includes('"errors"'));
    if (!isErrorAnswer) return output;
    const body = JSON.parse(output);
    let changed = this.#explainUserFacing(body, undefined);
    const explainAll = (/** @type {any} */ container) => {
      for (const envelope of Array.isArray(container?.errors) ? container.errors : []) {
        if (envelope && typeof envelope === 'object') changed = this.#explainUserFacing(envelope.user_facing_error, envelope) || changed;
      }
    };
    explainAll(body);
    for (const item of Array.isArray(body.batchResult) ? body.batchResult : []) explainAll(item);
    return changed ? JSON.stringify(body) : output;
  }

  /**
   * @param {any} userFacing `{error_code, message, meta}`
   * @param {any} envelope `{error, user_facing_error}` around it, if any
   * @returns {boolean} whether it was changed
   */
  #explainUserFacing(userFacing, envelope) {
    if (userFacing?.error_code !== 'P2036' || typeof userFacing.meta?.id !== 'number') return false;
    const record = this.consumeError(userFacing.meta.id);
    if (record === undefined) return false;
    const cause = describe(record.error);
    userFacing.message = `${userFacing.message}: ${cause.text}`;
    userFacing.meta = { ...userFacing.meta, ...cause.meta };
    if (envelope && typeof envelope.error === 'string') envelope.error = `${envelope.error}: ${cause.text}`;
    return true;
  }

  /** Drops the errors registered while only calls that have all finished were running. */
  #dropUnreported() {
    if (this.entries.size === 0) return;
    let oldestRunning = Infinity;
    for (const call of this.running) oldestRunning = Math.min(oldestRunning, call);
    for (const [id, entry] of this.entries) {
      if (entry.lastCallStarted >= oldestRunning) continue; // a running call may still report it
      this.entries.delete(id);
      this.logger.warn('an error of the driver adapter was reported by no answer', { id, error: describe(entry.error).text });
    }
  }
}

/**
 * The text and meta fields for an adapter error: SQLite's message with its code, e.g.
 * `database or disk is full (SQLITE_FULL, extended code 13)`; other errors as `Name: message`.
 * @param {unknown} error
 * @returns {{text: string, meta: Record<string, unknown>}}
 */
export function describe(error) {
  if (!(error instanceof Error)) return { text: String(error), meta: { message: String(error) } };
  const { code, rawCode } = /** @type {{code?: unknown, rawCode?: unknown}} */ (error);
  if (typeof rawCode === 'number') {
    const name = typeof code === 'string' ? `${code}, ` : '';
    return {
      text: `${error.message} (${name}extended code ${rawCode})`,
      meta: { message: error.message, ...(typeof code === 'string' ? { code } : {}), extended_code: rawCode },
    };
  }
  return { text: `${error.name}: ${error.message}`, meta: { message: error.message } };
}
