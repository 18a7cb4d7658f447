// A webhook against a live service (test/service.ts names it): a node:http receiver on 127.0.0.1,
// registered with the admin client, gets an operator's check-in as a signed delivery, which
// verifyWebhookSignature accepts with the secret the 201 showed, and refuses once the body is
// tampered with. The service must allow private webhook URLs (tests/api/test_typescript_client.py
// starts it with GARAGE_WEBHOOK_ALLOW_PRIVATE=true).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { createGarageClient } from '../src/index.js';
import type { CheckInResult, Garage, GarageClient } from '../src/index.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from '../src/webhooks.js';
import { admin, baseUrl, uniquePlate } from './service.js';

// The deliverer looks for new events every 0.5 s; a delivery later than this failed its test.
const GUARD_MS = 15_000;

interface Delivery {
  readonly body: Buffer;
  readonly headers: IncomingHttpHeaders;
}

/** The single value of a header node parsed (the test fails when it is missing or repeated). */
function header(delivery: Delivery, name: string): string {
  const value = delivery.headers[name.toLowerCase()];
  assert.ok(typeof value === 'string', `one ${name} header, got ${JSON.stringify(value)}`);
  return value;
}

function sessionIdOf(body: Buffer): unknown {
  const event: unknown = JSON.parse(body.toString('utf8'));
  if (typeof event !== 'object' || event === null || !('data' in event)) {
    return undefined;
  }
  const { data } = event;
  if (typeof data !== 'object' || data === null || !('session' in data)) {
    return undefined;
  }
  const { session } = data;
  return typeof session === 'object' && session !== null && 'id' in session ? session.id : undefined;
}

describe('webhooks from a live service', () => {
  const deliveries: Delivery[] = [];
  const waiting = new Set<() => void>();
  // Answers every delivery 204 and keeps its bytes exactly as they came: the signature is over them.
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks), headers: request.headers });
      response.writeHead(204).end();
      for (const wake of waiting) {
        wake();
      }
    });
  });
  let garage: Garage;
  let operator: GarageClient;
  let url: string;

  /** The first delivery `matches` accepts, once it has come. */
  async function delivered(matches: (delivery: Delivery) => boolean): Promise<Delivery> {
    const deadline = AbortSignal.timeout(GUARD_MS);
    for (;;) {
      const found = deliveries.find(matches);
      if (found !== undefined) {
        return found;
      }
      assert.ok(!deadline.aborted, `no such delivery within ${String(GUARD_MS)} ms; got ${String(deliveries.length)}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          waiting.delete(wake);
          resolve();
        };
        waiting.add(wake);
        setTimeout(wake, 100);
      });
    }
  }

  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${String((receiver.address() as AddressInfo).port)}/garage-events`;
    // A garage of its own: the webhook hears only this file's check-ins.
    garage = await admin.POST('/api/v1/garages', {
      body: { name: 'TypeScript webhooks garage', address: '3 Test Street', capacity: 5 },
    });
    await admin.POST('/api/v1/garages/{id}/spots', {
      params: { path: { id: garage.id } },
      body: { spots: [{ level: 0, number: '1', type: 'STANDARD' as const }] },
    });
    const operatorKey = await admin.POST('/api/v1/admin/api-keys', {
      body: { name: 'typescript webhooks operator', role: 'operator' },
    });
    operator = createGarageClient({ baseUrl, apiKey: operatorKey.key });
  });

  after(async () => {
    await new Promise<void>((resolve, reject) => receiver.close((error) => (error ? reject(error) : resolve())));
  });

  // What the first test received, for the second to tamper with.
  let received: { secret: string; entry: CheckInResult; delivery: Delivery } | undefined;

  it('delivers a check-in to the receiver, signed with the secret the 201 showed', async () => {
    const webhook = await admin.POST('/api/v1/admin/webhooks', {
      body: { url, types: ['session.started'], garageId: garage.id },
    });
    assert.equal(webhook.url, url);
    assert.deepEqual(webhook.types, ['session.started']);
    const { secret } = webhook;
    assert.ok(secret.length > 0, 'the secret, shown this once');

    const entry = await operator.POST('/api/v1/garages/{id}/check-in', {
      params: { path: { id: garage.id } },
      body: { licensePlate: uniquePlate(), vehicleType: 'CAR' },
    });
    // At least once: a delivery may come again, so look for it rather than take the first.
    const delivery = await delivered((candidate) => sessionIdOf(candidate.body) === entry.session.id);

    const event: unknown = JSON.parse(delivery.body.toString('utf8'));
    assert.ok(typeof event === 'object' && event !== null && 'id' in event && 'type' in event && 'garageId' in event);
    assert.equal(event.type, 'session.started');
    assert.equal(event.garageId, garage.id);
    assert.equal(header(delivery, EVENT_ID_HEADER), event.id);
    assert.equal(header(delivery, 'Content-Type'), 'application/json');
    const signature = header(delivery, SIGNATURE_HEADER);
    assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
    // As a receiver gets it: the raw bytes, or their text.
    assert.equal(verifyWebhookSignature({ secret, body: delivery.body, header: signature }), true);
    assert.equal(verifyWebhookSignature({ secret, body: delivery.body.toString('utf8'), header: signature }), true);

    // The service recorded the 204 as delivered (after the answer: give it a moment).
    const deadline = AbortSignal.timeout(GUARD_MS);
    for (;;) {
      const page = await admin.GET('/api/v1/admin/webhooks/{id}/deliveries', {
        params: { path: { id: webhook.id } },
      });
      const recorded = page.items.find((item) => item.eventId === event.id);
      if (recorded?.status === 'DELIVERED') {
        assert.equal(recorded.lastResponseStatus, 204);
        break;
      }
      assert.ok(!deadline.aborted, `not recorded as DELIVERED: ${JSON.stringify(recorded)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await admin.DELETE('/api/v1/admin/webhooks/{id}', { params: { path: { id: webhook.id } } });
    received = { secret, entry, delivery };
  });

  it('refuses the same delivery once its body, signature or secret is not the one signed', () => {
    assert.ok(received !== undefined, 'the delivery of the test before');
    const { secret, entry, delivery } = received;
    const signature = header(delivery, SIGNATURE_HEADER);
    const tampered = Buffer.from(delivery.body);
    // One byte of the session id changed: still JSON, still plausible, no longer what was signed.
    const start = tampered.indexOf(entry.session.id);
    assert.ok(start >= 0, 'the session id is in the body');
    const at = start + entry.session.id.length - 1;
    tampered[at] = (tampered[at] ?? 0) ^ 1;
    assert.notDeepEqual(tampered, delivery.body);
    assert.equal(verifyWebhookSignature({ secret, body: tampered, header: signature }), false);
    assert.equal(verifyWebhookSignature({ secret, body: Buffer.concat([delivery.body, Buffer.from(' ')]), header: signature }), false);
    assert.equal(verifyWebhookSignature({ secret: `${secret}x`, body: delivery.body, header: signature }), false);
    const [time, digest] = signature.split(',');
    const otherTime = `t=${String(Number(time?.slice(2)) - 1)}`;
    assert.equal(verifyWebhookSignature({ secret, body: delivery.body, header: `${otherTime},${String(digest)}` }), false);
  });
});
