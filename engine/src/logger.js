// Log lines shaped like the Rust engine's (`RUST_LOG_FORMAT=json`): one JSON object per line on
// stderr with timestamp, level, fields.message and target. `RUST_LOG` sets the level
// ("error", "warn", "info", "debug", "trace"; the first bare level in a directive list counts).
// A line written while serving a request that carried X-Request-ID has it as fields.request_id
// (`requestContext`, set by server.js), so the service can tie its query log lines to the request.

import { AsyncLocalStorage } from 'node:async_hooks';

const LEVELS = ['error', 'warn', 'info', 'debug', 'trace'];
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request being served: its id (the service's X-Request-ID), if it sent one. */
/** @type {AsyncLocalStorage<{requestId?: string}>} */
export const requestContext = new AsyncLocalStorage();

/**
 * The request id a request carries, if it is a sane one (as the service's own check).
 * @param {string | string[] | undefined} header
 * @returns {{requestId?: string}}
 */
export function requestIdFrom(header) {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && REQUEST_ID.test(value) ? { requestId: value } : {};
}

/** @param {string | undefined} directive */
export function parseLevel(directive) {
  for (const part of (directive ?? '').split(',')) {
    const candidate = part.trim().toLowerCase();
    if (LEVELS.includes(candidate)) return candidate;
  }
  return 'error';
}

export class Logger {
  /** @param {{level: string, json: boolean, stream?: NodeJS.WritableStream}} options */
  constructor({ level, json, stream = process.stderr }) {
    this.threshold = LEVELS.indexOf(level);
    this.json = json;
    this.stream = stream;
  }

  /** @param {string} level */
  enabled(level) {
    return LEVELS.indexOf(level) <= this.threshold;
  }

  /**
   * @param {string} level
   * @param {string} message
   * @param {Record<string, unknown>} [fields]
   * @param {string} [target]
   * @param {boolean} [force] write even when the level is filtered out (query and slow-query logs)
   */
  log(level, message, fields = {}, target = 'query_engine', force = false) {
    if (!force && !this.enabled(level)) return;
    const timestamp = new Date().toISOString();
    const requestId = requestContext.getStore()?.requestId;
    const all = requestId === undefined ? fields : { ...fields, request_id: requestId };
    const line = this.json
      ? JSON.stringify({ timestamp, level: level.toUpperCase(), fields: { message, ...all }, target })
      : `${timestamp} ${level.toUpperCase()} ${target}: ${message}${Object.keys(all).length ? ` ${JSON.stringify(all)}` : ''}`;
    this.stream.write(`${line}\n`);
  }

  /** @param {string} message @param {Record<string, unknown>} [fields] */
  error(message, fields) { this.log('error', message, fields); }
  /** @param {string} message @param {Record<string, unknown>} [fields] */
  warn(message, fields) { this.log('warn', message, fields); }
  /** @param {string} message @param {Record<string, unknown>} [fields] */
  info(message, fields) { this.log('info', message, fields); }
  /** @param {string} message @param {Record<string, unknown>} [fields] */
  debug(message, fields) { this.log('debug', message, fields); }
}
