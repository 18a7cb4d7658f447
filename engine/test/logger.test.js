import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Logger, requestContext, requestIdFrom } from '../src/logger.js';

/** A logger writing into an array of parsed JSON lines. */
function capture() {
  /** @type {any[]} */
  const lines = [];
  const stream = new Writable({
    write(chunk, _encoding, done) { lines.push(JSON.parse(String(chunk))); done(); },
  });
  return { lines, logger: new Logger({ level: 'info', json: true, stream }) };
}

test('a line written while serving a request carries its request id', async () => {
  const { lines, logger } = capture();
  logger.info('outside');
  await requestContext.run(requestIdFrom('req-1'), async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    logger.warn('inside', { query: 'SELECT 1' });
  });
  assert.equal(lines[0].fields.request_id, undefined);
  assert.deepEqual(lines[1].fields, { message: 'inside', query: 'SELECT 1', request_id: 'req-1' });
});

test('a request id that is not a sane one is ignored', () => {
  assert.deepEqual(requestIdFrom(undefined), {});
  assert.deepEqual(requestIdFrom('a b'), {});
  assert.deepEqual(requestIdFrom('x'.repeat(129)), {});
  assert.deepEqual(requestIdFrom(['id-1', 'id-2']), { requestId: 'id-1' });
});
