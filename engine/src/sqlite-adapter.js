import { PrismaLibSQL } from '@prisma/adapter-libsql';
import { ColumnTypeEnum } from '@prisma/driver-adapter-utils';

/**
 * Prisma's libSQL adapter, with one correction: it reports INTEGER columns as 32-bit, so the engine
 * fails to read back any value beyond 2^31 that it has just written (P2023 after the row was
 * committed, and the table stays unreadable). SQLite integers are 64-bit, and Prisma's Rust engine
 * read them as such; reporting them as Int64 restores that.
 */
export class SqliteAdapter extends PrismaLibSQL {
  /**
   * @param {any} client
   * @param {import('./metrics.js').Metrics} metrics
   */
  constructor(client, metrics) {
    super(client);
    measureConnectionWaits(this, metrics);
  }

  /** @param {import('@prisma/driver-adapter-utils').Query} query */
  async queryRaw(query) {
    return widenIntegers(await super.queryRaw(query));
  }

  async startTransaction() {
    const result = await super.startTransaction();
    return result.map((transaction) => {
      const queryRaw = transaction.queryRaw.bind(transaction);
      transaction.queryRaw = async (/** @type {any} */ query) => widenIntegers(await queryRaw(query));
      return transaction;
    });
  }
}

/** @param {any} result a Result<ResultSet> of the adapter */
function widenIntegers(result) {
  return result.map((/** @type {any} */ resultSet) => {
    if (!resultSet.columnTypes.includes(ColumnTypeEnum.Int32)) return resultSet;
    return {
      ...resultSet,
      columnTypes: resultSet.columnTypes.map((/** @type {number} */ type) => (type === ColumnTypeEnum.Int32 ? ColumnTypeEnum.Int64 : type)),
    };
  });
}

/**
 * The adapter serialises its connection behind a mutex (its only symbol-keyed property): time
 * spent acquiring it is a query's wait for the connection, which Prisma publishes as
 * prisma_client_queries_wait(_histogram_ms).
 * @param {object} adapter
 * @param {import('./metrics.js').Metrics} metrics
 */
function measureConnectionWaits(adapter, metrics) {
  const symbols = Object.getOwnPropertySymbols(adapter);
  const mutex = symbols.length === 1 ? /** @type {any} */ (adapter)[symbols[0]] : undefined;
  if (typeof mutex?.acquire !== 'function') {
    throw new Error('@prisma/adapter-libsql changed: its connection mutex was not found');
  }
  const acquire = mutex.acquire.bind(mutex);
  mutex.acquire = async () => {
    const started = performance.now();
    metrics.addGauge('prisma_client_queries_wait', 1);
    try {
      return await acquire();
    } finally {
      metrics.addGauge('prisma_client_queries_wait', -1);
      metrics.observe('prisma_client_queries_wait_histogram_ms', performance.now() - started);
    }
  };
}
