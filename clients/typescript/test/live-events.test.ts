// client.events against a live service (test/service.ts names it): the stream delivers a check-in's
// events within a second, a consumer that stops and resumes after its last event loses and repeats
// nothing, and bad resume points are GarageErrors.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import { createGarageClient, paginate } from '../src/index.js';
import type { CheckInResult, Event, EventType, Garage, GarageClient } from '../src/index.js';
import { admin, baseUrl, rejection, uniquePlate } from './service.js';

const CHECK_IN_EVENTS: readonly EventType[] = ['session.started', 'spot.changed', 'occupancy.changed'];
// API-operations.md "Events": an event committed by any worker is delivered within 1 s.
const DELIVERY_MS = 1000;
// A guard: a stream still open after this failed its test (the loops below break long before).
const GUARD_MS = 15_000;

function idOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'id' in value ? value.id : undefined;
}

/** A promise and its resolve, for "the stream is open". */
function signalled(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((settle) => (resolve = settle));
  return { promise, resolve };
}

describe('events from a live service', () => {
  let garage: Garage;
  let operator: GarageClient;
  let viewer: GarageClient;

  before(async () => {
    // A garage of its own: its events are only this file's.
    garage = await admin.POST('/api/v1/garages', {
      body: { name: 'TypeScript events garage', address: '2 Test Street', capacity: 10 },
    });
    await admin.POST('/api/v1/garages/{id}/spots', {
      params: { path: { id: garage.id } },
      body: { spots: ['1', '2', '3', '4'].map((number) => ({ level: 0, number, type: 'STANDARD' as const })) },
    });
    const [operatorKey, viewerKey] = await Promise.all([
      admin.POST('/api/v1/admin/api-keys', { body: { name: 'typescript events operator', role: 'operator' } }),
      admin.POST('/api/v1/admin/api-keys', { body: { name: 'typescript events viewer', role: 'viewer' } }),
    ]);
    operator = createGarageClient({ baseUrl, apiKey: operatorKey.key });
    // A console's read-only key is enough to follow the events.
    viewer = createGarageClient({ baseUrl, apiKey: viewerKey.key });
  });

  const checkIn = (): Promise<CheckInResult> =>
    operator.POST('/api/v1/garages/{id}/check-in', {
      params: { path: { id: garage.id } },
      body: { licensePlate: uniquePlate(), vehicleType: 'CAR' },
    });

  it('streams the events of a check-in within 1 s', async () => {
    const opened = signalled();
    const arrived: { event: Event; at: number }[] = [];
    const reading = (async () => {
      for await (const event of viewer.events.stream({
        garageId: garage.id,
        types: CHECK_IN_EVENTS,
        signal: AbortSignal.timeout(GUARD_MS),
        onOpen: opened.resolve,
      })) {
        arrived.push({ event, at: performance.now() });
        if (CHECK_IN_EVENTS.every((type) => arrived.some(({ event: seen }) => seen.type === type))) {
          break;
        }
      }
    })();
    // A stream opened without `after` starts with the events committed after it opened.
    await Promise.race([opened.promise, reading]);
    const entry = await checkIn();
    const answered = performance.now();
    await reading;

    assert.deepEqual(
      arrived.map(({ event }) => event.type).sort(),
      [...CHECK_IN_EVENTS].sort(),
      `the check-in's three events, once each: ${JSON.stringify(arrived.map(({ event }) => event.type))}`,
    );
    for (const { event, at } of arrived) {
      assert.equal(event.garageId, garage.id);
      assert.ok(at - answered <= DELIVERY_MS, `${event.type} came ${String(Math.round(at - answered))} ms after the check-in`);
      assert.ok(!Number.isNaN(Date.parse(event.occurredAt)));
    }
    const byType = new Map(arrived.map(({ event }) => [event.type, event]));
    assert.equal(idOf(byType.get('session.started')?.data['session']), entry.session.id);
    assert.equal(idOf(byType.get('spot.changed')?.data['spot']), entry.spot.id);
    assert.equal(byType.get('occupancy.changed')?.data['occupied'], 1);
    const ids = arrived.map(({ event }) => event.id);
    assert.deepEqual(ids, [...ids].sort(), 'in commit order');
  });

  it('resumes after the last event it yielded: nothing lost, nothing twice', async () => {
    // First consumer: stops after the first event of a check-in, before the check-in's others.
    const opened = signalled();
    const first: Event[] = [];
    const reading = (async () => {
      for await (const event of viewer.events.stream({
        garageId: garage.id,
        signal: AbortSignal.timeout(GUARD_MS),
        onOpen: opened.resolve,
      })) {
        first.push(event);
        break;
      }
    })();
    await Promise.race([opened.promise, reading]);
    const parked = await checkIn();
    await reading;
    assert.equal(first.length, 1, 'the first consumer got an event');

    // While nobody listens: another check-in, and the first car leaves.
    const other = await checkIn();
    await operator.POST('/api/v1/sessions/{id}/check-out', {
      params: { path: { id: parked.session.id } },
      body: { paymentMethod: 'CARD' },
    });

    // The log as the catch-up list has it, two at a time (nextCursor is the next page's `after`).
    const logged: Event[] = [];
    for await (const event of paginate((page) => viewer.events.list({ garageId: garage.id, limit: 2, after: page.cursor }))) {
      logged.push(event);
    }
    const last = logged.at(-1)?.id;
    assert.ok(last !== undefined);

    // Second consumer: resumes after the first one's last event and reads up to the log's end.
    const second: Event[] = [];
    for await (const event of viewer.events.stream({
      garageId: garage.id,
      after: first.at(-1)?.id,
      signal: AbortSignal.timeout(GUARD_MS),
    })) {
      second.push(event);
      if (event.id === last) {
        break;
      }
    }

    const start = logged.findIndex((event) => event.id === first[0]?.id);
    assert.ok(start >= 0, 'the first consumer saw a logged event');
    assert.deepEqual(
      [...first, ...second].map((event) => event.id),
      logged.slice(start).map((event) => event.id),
      'the two consumers together saw the log from the first one on, once each',
    );
    assert.deepEqual(second, logged.slice(start + 1), 'the same events as the list');
    const sessions = (type: EventType): unknown[] =>
      second.filter((event) => event.type === type).map((event) => idOf(event.data['session']));
    assert.ok(sessions('session.started').includes(other.session.id), 'the check-in made while stopped');
    assert.ok(sessions('session.completed').includes(parked.session.id), 'the check-out made while stopped');
  });

  it('throws a bad `after` as GarageError 400, before any event', async () => {
    const error = await rejection(viewer.events.stream({ after: 'not-an-event-id' }).next());
    assert.equal(error.status, 400);
    assert.equal(error.code, 'VALIDATION_ERROR');
    const fields = error.details['fields'];
    assert.ok(typeof fields === 'object' && fields !== null && 'after' in fields, JSON.stringify(error.details));
    const listed = await rejection(viewer.events.list({ after: 'not-an-event-id' }));
    assert.equal(listed.status, 400);
  });

  it('throws a missing key as GarageError 401', async () => {
    const stranger = createGarageClient({ baseUrl, apiKey: 'not-a-key-of-this-service' });
    const error = await rejection(stranger.events.stream().next());
    assert.equal(error.status, 401);
    assert.equal(error.code, 'UNAUTHENTICATED');
  });
});
