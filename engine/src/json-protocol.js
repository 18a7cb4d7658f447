import { ProtocolError } from './graphql-protocol.js';

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

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
