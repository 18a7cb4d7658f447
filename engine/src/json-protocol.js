import { ProtocolError } from './errors.js';

/** Well-formed input whose values the engine refuses (answered as a P2007 data validation error). */
export class InputRejected extends Error {
  name = 'InputRejected';
}

// Actions of the JSON protocol that a SQLite engine serves. The wasm engine panics on some
// malformed bodies (an unknown action, a raw query without parameters), and a panic costs the
// whole instance, so every operation is checked here before it goes in.
const MODEL_ACTIONS = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany',
  'createOne', 'createMany', 'createManyAndReturn', 'updateOne', 'updateMany', 'upsertOne', 'deleteOne', 'deleteMany',
  'aggregate', 'groupBy']);
const RAW_ACTIONS = new Set(['queryRaw', 'executeRaw']);
export const READ_ACTIONS = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany',
  'aggregate', 'groupBy']);

/**
 * Throws ProtocolError unless `operation` is a JSON-protocol operation the engine can take safely.
 * @param {unknown} operation
 * @param {Set<string>} modelNames
 */
export function validateOperation(operation, modelNames) {
  if (!isObject(operation)) throw new ProtocolError('An operation must be a JSON object');
  const { modelName, action, query } = /** @type {Record<string, unknown>} */ (operation);
  if (typeof action !== 'string') throw new ProtocolError('"action" must be a string');
  if (MODEL_ACTIONS.has(action)) {
    if (typeof modelName !== 'string' || !modelNames.has(modelName)) {
      throw new ProtocolError(`"modelName" must name a model of the schema (got ${JSON.stringify(modelName)})`);
    }
  } else if (!RAW_ACTIONS.has(action)) {
    throw new ProtocolError(`Unknown action ${JSON.stringify(action)}`);
  }
  if (!isObject(query)) throw new ProtocolError('"query" must be an object');
  if (depthExceeds(query, MAX_DEPTH)) throw new ProtocolError(`The query is nested deeper than ${MAX_DEPTH} levels`);
  rejectNulCharacters(query);
  const { arguments: args, selection } = /** @type {Record<string, unknown>} */ (query);
  if (args !== undefined && !isObject(args)) throw new ProtocolError('"query.arguments" must be an object');
  if (!isObject(selection)) throw new ProtocolError('"query.selection" must be an object');
  if (RAW_ACTIONS.has(action)) {
    const raw = /** @type {Record<string, unknown>} */ (args ?? {});
    if (typeof raw.query !== 'string') throw new ProtocolError(`${action} needs a "query" string`);
    if (typeof raw.parameters !== 'string') throw new ProtocolError(`${action} needs "parameters" as a JSON string`);
    let parameters;
    try {
      parameters = JSON.parse(raw.parameters);
    } catch {
      throw new ProtocolError(`${action} "parameters" is not valid JSON`);
    }
    if (!Array.isArray(parameters)) throw new ProtocolError(`${action} "parameters" must be a JSON array`);
    rejectNulCharacters(parameters);
  }
}

/**
 * @param {unknown} transaction the batch's "transaction" member
 */
export function validateBatchTransaction(transaction) {
  if (transaction === undefined || transaction === null) return;
  if (!isObject(transaction)) throw new ProtocolError('"transaction" must be an object');
  const { isolationLevel } = /** @type {Record<string, unknown>} */ (transaction);
  if (isolationLevel !== undefined && typeof isolationLevel !== 'string') throw new ProtocolError('"isolationLevel" must be a string');
}

// The wasm engine runs out of stack on deeply nested input (a few hundred levels); queries the
// client builds stay far below this.
const MAX_DEPTH = 128;

/**
 * SQLite stores text with NUL characters, but the libSQL binding reads such text back cut at the
 * first NUL: the write would succeed and every later read return other data. Refuse it up front.
 * @param {unknown} value
 */
function rejectNulCharacters(value) {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new InputRejected('Text values may not contain NUL (\\u0000) characters');
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const item of Array.isArray(value) ? value : Object.values(value)) rejectNulCharacters(item);
}

/** @param {unknown} value @param {number} budget */
function depthExceeds(value, budget) {
  if (value === null || typeof value !== 'object') return false;
  if (budget === 0) return true;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    if (depthExceeds(item, budget - 1)) return true;
  }
  return false;
}

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
