import { SqliteConnection } from './sqlite-connection.js';

/**
 * A SqliteConnection that measures every statement: datasource query metrics, the query log
 * (`LOG_QUERIES`, shaped like the Rust engine's quaint log lines) and the slow-query log.
 */
export class InstrumentedConnection extends SqliteConnection {
  /**
   * @param {import('./sqlite-connection.js').ConnectionOptions} options
   * @param {{metrics: import('./metrics.js').Metrics, logger: import('./logger.js').Logger,
   *          logQueries: boolean, slowQueryMs: number}} observers
   */
  constructor(options, observers) {
    super(options);
    this.observers = observers;
  }

  /** @param {import('@libsql/client').InStatement} statement */
  async execute(statement) {
    return this.#measured(statement, () => super.execute(statement));
  }

  /** @param {string} sql BEGIN, COMMIT, ROLLBACK */
  async control(sql) {
    return this.#measured(sql, () => super.control(sql));
  }

  /**
   * @template T
   * @param {import('@libsql/client').InStatement} statement
   * @param {() => Promise<T>} run
   * @returns {Promise<T>}
   */
  async #measured(statement, run) {
    const { metrics, logger, logQueries, slowQueryMs } = this.observers;
    const started = performance.now();
    metrics.addGauge('prisma_pool_connections_busy', 1);
    metrics.addGauge('prisma_pool_connections_idle', -1);
    try {
      return await run();
    } finally {
      metrics.addGauge('prisma_pool_connections_busy', -1);
      metrics.addGauge('prisma_pool_connections_idle', 1);
      const durationMs = performance.now() - started;
      metrics.increment('prisma_datasource_queries_total');
      metrics.observe('prisma_datasource_queries_duration_histogram_ms', durationMs);
      const sql = typeof statement === 'string' ? statement : statement.sql;
      const params = typeof statement === 'string' ? [] : statement.args ?? [];
      if (logQueries) {
        logger.log('info', sql, {
          item_type: 'query', is_query: true, query: sql, params: renderParams(params),
          duration_ms: Math.round(durationMs),
        }, 'quaint::connector::metrics', true);
      }
      if (slowQueryMs >= 0 && durationMs >= slowQueryMs) {
        metrics.increment('query_engine_slow_queries_total');
        logger.log('warn', 'slow query', {
          query: sql, params: renderParams(params), duration_ms: Number(durationMs.toFixed(3)),
          threshold_ms: slowQueryMs, connection: this.options.role,
        }, 'query_engine::slow_query', true);
      }
    }
  }
}

/** @param {unknown} params */
function renderParams(params) {
  return JSON.stringify(params, (_key, value) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return `<${value.byteLength} bytes>`;
    return value;
  });
}
