import { ENGINE_COMMIT, ENGINE_VERSION } from './version.js';

/**
 * @typedef {object} ServerOptions
 * @property {number} port
 * @property {string} host
 * @property {boolean} enableMetrics
 * @property {boolean} enableRawQueries
 * @property {boolean} debug             x-debug-non-fatal triggers a real wasm panic (tests)
 * @property {string} schemaPath
 * @property {string | undefined} datamodel  from PRISMA_DML (base64), when given instead of a path
 * @property {boolean} logQueries
 * @property {number} slowQueryMs        -1 disables the slow-query log
 * @property {number} busyTimeoutMs
 * @property {string} synchronous
 * @property {number} maxBodyBytes
 * @property {string} commit
 * @property {string} version
 */

/** @param {string[]} argv @param {NodeJS.ProcessEnv} env @returns {ServerOptions} */
export function parseOptions(argv, env) {
  /** @type {ServerOptions} */
  const options = {
    port: 4466,
    host: '127.0.0.1',
    enableMetrics: false,
    enableRawQueries: false,
    debug: false,
    schemaPath: env.PRISMA_DML_PATH ?? '',
    datamodel: env.PRISMA_DML ? Buffer.from(env.PRISMA_DML, 'base64').toString('utf8') : undefined,
    logQueries: Boolean(env.LOG_QUERIES),
    slowQueryMs: numberFrom(env.ENGINE_SLOW_QUERY_MS, 200, 'ENGINE_SLOW_QUERY_MS', -1),
    busyTimeoutMs: numberFrom(env.ENGINE_BUSY_TIMEOUT_MS, 10_000, 'ENGINE_BUSY_TIMEOUT_MS', 0),
    synchronous: synchronousFrom(env.ENGINE_SQLITE_SYNCHRONOUS),
    maxBodyBytes: numberFrom(env.ENGINE_MAX_BODY_BYTES, 64 * 1024 * 1024, 'ENGINE_MAX_BODY_BYTES', 1),
    commit: ENGINE_COMMIT,
    version: ENGINE_VERSION,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      return value;
    };
    switch (arg) {
      case '-p': case '--port': options.port = numberFrom(next(), 0, arg, 0); break;
      case '-H': case '--host': options.host = next(); break;
      case '-m': case '--enable-metrics': options.enableMetrics = true; break;
      case '-r': case '--enable-raw-queries': options.enableRawQueries = true; break;
      case '-g': case '--enable-playground': case '--enable-open-telemetry': case '--dataproxy-metric-override': break;
      case '--debug': case '-o': options.debug = true; break;
      case '--datamodel-path': options.schemaPath = next(); break;
      default:
        if (arg.startsWith('--port=')) options.port = numberFrom(arg.slice(7), 0, '--port', 0);
        else throw new Error(`Unknown argument: ${arg}`);
    }
  }
  if (!options.schemaPath && options.datamodel === undefined) {
    throw new Error('Set PRISMA_DML_PATH (or PRISMA_DML) to the Prisma schema');
  }
  return options;
}

/** @param {string | undefined} raw @param {number} fallback @param {string} name @param {number} min */
function numberFrom(raw, fallback, name, min) {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number >= ${min} (got "${raw}")`);
  return value;
}

/** @param {string | undefined} raw */
function synchronousFrom(raw) {
  const value = (raw ?? 'FULL').toUpperCase();
  if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(value)) throw new Error(`ENGINE_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA (got "${raw}")`);
  return value;
}
