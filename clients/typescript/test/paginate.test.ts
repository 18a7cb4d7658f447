// paginate's own rules on pages written here: the live tests page through the service's lists.
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { paginate } from '../src/index.js';
import type { Page, PageRequest } from '../src/index.js';

async function collect<Item>(items: AsyncIterable<Item>): Promise<Item[]> {
  const all: Item[] = [];
  for await (const item of items) {
    all.push(item);
  }
  return all;
}

it('asks for the first page without a cursor, then for each nextCursor, until null', async () => {
  const pages: Record<string, Page<number>> = {
    '': { items: [1, 2], nextCursor: 'b' },
    b: { items: [], nextCursor: 'c' },
    c: { items: [3], nextCursor: null },
  };
  const asked: PageRequest[] = [];
  const items = await collect(
    paginate((request) => {
      asked.push(request);
      const page = pages[request.cursor ?? ''];
      assert.ok(page !== undefined, `no page ${String(request.cursor)}`);
      return Promise.resolve(page);
    }),
  );
  assert.deepEqual(items, [1, 2, 3]);
  assert.deepEqual(asked, [{}, { cursor: 'b' }, { cursor: 'c' }]);
});

it('refuses a list that answers its own cursor again', async () => {
  const looping = paginate((request) => Promise.resolve({ items: [request.cursor ?? 'first'], nextCursor: 'same' }));
  await assert.rejects(collect(looping), /its own cursor "same" again/);
});
