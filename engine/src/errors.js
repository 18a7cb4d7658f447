// Prisma's error envelope, the Rust server's HTTP statuses for transaction errors, and the
// errors the protocol translation raises (graphql-protocol.js and json-protocol.js both do).

/**
 * A request body the engine cannot take (malformed GraphQL, an operation the wasm engine would
 * panic on): answered 422 before it reaches the engine.
 */
export class ProtocolError extends Error {
  name = 'ProtocolError';
}

/**
 * @typedef {object} UserFacingError
 * @property {boolean} is_panic
 * @property {string} message
 * @property {Record<string, unknown>} [meta]
 * @property {string} [error_code]
 * @property {string | null} [backtrace]
 */

/** @param {string} code @param {string} message @param {Record<string, unknown>} meta @returns {UserFacingError} */
export function knownError(code, message, meta = {}) {
  return { is_panic: false, message, meta, error_code: code };
}

/** @param {string} message @returns {UserFacingError} */
export function panicError(message) {
  return { is_panic: true, message, backtrace: null };
}

/** `{"errors": [...]}` as sent for a failed query. @param {string} error @param {UserFacingError} userFacing */
export function queryErrorBody(error, userFacing) {
  return { errors: [{ error, user_facing_error: userFacing }] };
}

/**
 * Transaction API errors (P2028) with the statuses the Rust server used for them:
 * not found 404, closed 422, acquisition timeout 504, anything else 500.
 */
export const TransactionProblem = {
  notFound: () => transactionError(404,
    "Transaction not found. Transaction ID is invalid, refers to an old closed transaction Prisma doesn't have information about anymore, or was obtained before disconnecting."),
  /** @param {string} reason */
  closed: (reason) => transactionError(422, `Transaction already closed: ${reason}`),
  acquisitionTimeout: () => transactionError(504, 'Unable to start a transaction in the given time.'),
  /** @param {string} reason */
  unknown: (reason) => transactionError(500, reason),
};

/** @param {number} status @param {string} detail */
function transactionError(status, detail) {
  const message = `Transaction API error: ${detail}`;
  return { status, detail, userFacing: knownError('P2028', message, { error: detail }) };
}

/** @typedef {ReturnType<typeof transactionError>} TransactionErrorInfo */

/**
 * Classifies an error JSON returned by the wasm engine's transaction calls into an HTTP status.
 * @param {UserFacingError} userFacing
 */
export function statusForTransactionError(userFacing) {
  const text = `${userFacing.message ?? ''} ${JSON.stringify(userFacing.meta ?? {})}`;
  if (/Transaction not found/i.test(text)) return 404;
  if (/Transaction already closed/i.test(text)) return 422;
  if (/Unable to start a transaction in the given time/i.test(text)) return 504;
  return 500;
}

// SQLite's "no such table/column" reach the wasm engine as a generic SQLITE_ERROR; Prisma's Rust
// engine reported them as P2021/P2022, which the client maps to TableNotFoundError.
const MISSING_TABLE = /no such table: ([\w.$]+)/;
const MISSING_COLUMN = /no such column: ([\w.$]+)/;

/**
 * Gives missing-table and missing-column errors their Prisma codes. Leaves everything else as is.
 * @param {string} text engine output
 */
export function withSchemaErrorCodes(text) {
  // Only error answers need the scan: a single operation's start with `{"errors"`, a batch's
  // carry them inside `batchResult` (success bodies, often large, are left unread).
  const mayHaveErrors = text.startsWith('{"errors"') || (text.startsWith('{"batchResult"') && text.includes('"errors"'));
  if (!mayHaveErrors || !(text.includes('no such table') || text.includes('no such column'))) return text;
  const body = JSON.parse(text);
  const fix = (/** @type {any} */ container) => {
    for (const error of container?.errors ?? []) {
      if (error?.user_facing_error?.error_code) continue;
      const table = MISSING_TABLE.exec(String(error.error));
      const column = MISSING_COLUMN.exec(String(error.error));
      if (table) {
        error.user_facing_error = knownError('P2021', `The table \`${table[1]}\` does not exist in the current database.`, { table: table[1] });
      } else if (column) {
        error.user_facing_error = knownError('P2022', `The column \`${column[1]}\` does not exist in the current database.`, { column: column[1] });
      }
    }
  };
  fix(body);
  for (const item of body.batchResult ?? []) fix(item);
  return JSON.stringify(body);
}
