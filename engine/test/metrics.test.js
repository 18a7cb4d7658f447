import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../src/metrics.js';

test('json metrics have the shape Prisma Client Python parses', () => {
  const metrics = new Metrics();
  metrics.increment('prisma_client_queries_total', 3);
  metrics.observe('prisma_client_queries_duration_histogram_ms', 0.5);
  metrics.observe('prisma_client_queries_duration_histogram_ms', 7);
  metrics.observe('prisma_client_queries_duration_histogram_ms', 60_000);
  const json = metrics.toJson({ service: 'garage' });
  const counter = json.counters.find((c) => c.key === 'prisma_client_queries_total');
  assert.deepEqual(counter, { key: 'prisma_client_queries_total', labels: { service: 'garage' }, value: 3, description: 'Total number of Prisma Client queries executed' });
  const histogram = json.histograms.find((h) => h.key === 'prisma_client_queries_duration_histogram_ms');
  assert.ok(histogram);
  assert.equal(histogram.value.count, 3);
  assert.equal(histogram.value.sum, 60_007.5);
  // per-bucket (not cumulative) counts; the overflow above the last bound only shows in count
  assert.deepEqual(histogram.value.buckets.filter(([, n]) => n > 0), [[1, 1], [10, 1]]);
});

test('prometheus text has cumulative buckets, +Inf, sum and count, and escaped labels', () => {
  const metrics = new Metrics();
  metrics.observe('prisma_datasource_queries_duration_histogram_ms', 2);
  metrics.observe('prisma_datasource_queries_duration_histogram_ms', 20);
  const text = metrics.toPrometheus({ app: 'a"b' });
  assert.match(text, /# TYPE prisma_datasource_queries_duration_histogram_ms histogram/);
  assert.match(text, /prisma_datasource_queries_duration_histogram_ms_bucket\{app="a\\"b",le="5"\} 1/);
  assert.match(text, /prisma_datasource_queries_duration_histogram_ms_bucket\{app="a\\"b",le="50"\} 2/);
  assert.match(text, /prisma_datasource_queries_duration_histogram_ms_bucket\{app="a\\"b",le="\+Inf"\} 2/);
  assert.match(text, /prisma_datasource_queries_duration_histogram_ms_count\{app="a\\"b"\} 2/);
});
