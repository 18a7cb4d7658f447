// Metrics in the shapes Prisma's engines publish (`GET /metrics?format=json|prometheus`), which
// Prisma Client Python parses into prisma.Metrics. Keys and descriptions follow Prisma 5.

const BUCKETS_MS = [0, 1, 5, 10, 50, 100, 500, 1000, 5000, 50000];

class Histogram {
  constructor() {
    this.counts = new Array(BUCKETS_MS.length + 1).fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** @param {number} valueMs */
  observe(valueMs) {
    let index = BUCKETS_MS.findIndex((bound) => valueMs <= bound);
    if (index === -1) index = BUCKETS_MS.length;
    this.counts[index] += 1;
    this.sum += valueMs;
    this.count += 1;
  }
}

const COUNTERS = {
  prisma_client_queries_total: 'Total number of Prisma Client queries executed',
  prisma_datasource_queries_total: 'Total number of Datasource Queries executed',
  prisma_pool_connections_closed_total: 'Total number of Pool Connections closed',
  prisma_pool_connections_opened_total: 'Total number of Pool Connections opened',
  query_engine_transactions_total: 'Total number of interactive transactions started',
  query_engine_slow_queries_total: 'Total number of datasource queries slower than the slow-query threshold',
  query_engine_panics_total: 'Total number of wasm engine panics (each replaced the engine instance)',
};

const GAUGES = {
  prisma_client_queries_active: 'Number of currently active Prisma Client queries',
  prisma_client_queries_wait: 'Number of Prisma Client queries currently waiting for a connection',
  prisma_pool_connections_busy: 'Number of currently busy Pool Connections (executing a datasource query)',
  prisma_pool_connections_idle: 'Number of currently unused Pool Connections (waiting for the next datasource query to run)',
  prisma_pool_connections_open: 'Number of currently open Pool Connections',
  query_engine_transactions_open: 'Number of currently open interactive transactions',
};

const HISTOGRAMS = {
  prisma_client_queries_duration_histogram_ms: 'Histogram of the duration of all executed Prisma Client queries in ms',
  prisma_client_queries_wait_histogram_ms: 'Histogram of the wait time of all Prisma Client Queries in ms',
  prisma_datasource_queries_duration_histogram_ms: 'Histogram of the duration of all executed Datasource Queries in ms',
};

/** @typedef {keyof typeof COUNTERS} CounterKey */
/** @typedef {keyof typeof GAUGES} GaugeKey */
/** @typedef {keyof typeof HISTOGRAMS} HistogramKey */
/** @typedef {ReturnType<Metrics['toJson']>} MetricsJson  the body of `GET /metrics?format=json` */

export class Metrics {
  constructor() {
    /** @type {Record<string, number>} */
    this.counters = Object.fromEntries(Object.keys(COUNTERS).map((key) => [key, 0]));
    /** @type {Record<string, number>} */
    this.gauges = Object.fromEntries(Object.keys(GAUGES).map((key) => [key, 0]));
    /** @type {Record<string, Histogram>} */
    this.histograms = Object.fromEntries(Object.keys(HISTOGRAMS).map((key) => [key, new Histogram()]));
  }

  /** @param {CounterKey} key @param {number} [by] */
  increment(key, by = 1) {
    this.counters[key] += by;
  }

  /** @param {GaugeKey} key @param {number} value */
  setGauge(key, value) {
    this.gauges[key] = value;
  }

  /** @param {GaugeKey} key @param {number} by */
  addGauge(key, by) {
    this.gauges[key] += by;
  }

  /** @param {HistogramKey} key @param {number} valueMs */
  observe(key, valueMs) {
    this.histograms[key].observe(valueMs);
  }

  /** @param {Record<string, string>} labels */
  toJson(labels = {}) {
    return {
      counters: Object.entries(COUNTERS).map(([key, description]) => (
        { key, labels, value: this.counters[key], description })),
      gauges: Object.entries(GAUGES).map(([key, description]) => (
        { key, labels, value: this.gauges[key], description })),
      histograms: Object.entries(HISTOGRAMS).map(([key, description]) => {
        const histogram = this.histograms[key];
        return {
          key,
          labels,
          value: {
            buckets: BUCKETS_MS.map((bound, index) => [bound, histogram.counts[index]]),
            sum: histogram.sum,
            count: histogram.count,
          },
          description,
        };
      }),
    };
  }

  /** @param {Record<string, string>} labels */
  toPrometheus(labels = {}) {
    const lines = [];
    const render = (/** @type {Record<string, string>} */ extra) => {
      const all = { ...labels, ...extra };
      const parts = Object.entries(all).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
      return parts.length ? `{${parts.join(',')}}` : '';
    };
    for (const [key, description] of Object.entries(COUNTERS)) {
      lines.push(`# HELP ${key} ${description}`, `# TYPE ${key} counter`, `${key}${render({})} ${this.counters[key]}`, '');
    }
    for (const [key, description] of Object.entries(GAUGES)) {
      lines.push(`# HELP ${key} ${description}`, `# TYPE ${key} gauge`, `${key}${render({})} ${this.gauges[key]}`, '');
    }
    for (const [key, description] of Object.entries(HISTOGRAMS)) {
      const histogram = this.histograms[key];
      lines.push(`# HELP ${key} ${description}`, `# TYPE ${key} histogram`);
      let cumulative = 0;
      BUCKETS_MS.forEach((bound, index) => {
        cumulative += histogram.counts[index];
        lines.push(`${key}_bucket${render({ le: String(bound) })} ${cumulative}`);
      });
      lines.push(`${key}_bucket${render({ le: '+Inf' })} ${histogram.count}`);
      lines.push(`${key}_sum${render({})} ${histogram.sum}`, `${key}_count${render({})} ${histogram.count}`, '');
    }
    return lines.join('\n');
  }
}
