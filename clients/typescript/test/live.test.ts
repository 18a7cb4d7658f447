// The client against a live service (test/service.ts names it): calls, errors, paging.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import { createGarageClient, isGarageError, paginate } from '../src/index.js';
import type { Garage, GarageClient, Session, Spot } from '../src/index.js';
import { admin, baseUrl, rejection, uniquePlate } from './service.js';

// Spot numbers a..: more than one page at PAGE_SIZE, and numeric-aware order ("2" < "10").
const SPOT_COUNT = 12;
const PAGE_SIZE = 5;

describe('the client against a live service', () => {
  let garage: Garage;
  let spots: Spot[];
  let operator: GarageClient;

  before(async () => {
    garage = await admin.POST('/api/v1/garages', {
      body: { name: 'TypeScript client garage', address: '1 Test Street', capacity: 50 },
    });
    const created = await admin.POST('/api/v1/garages/{id}/spots', {
      params: { path: { id: garage.id } },
      body: {
        spots: Array.from({ length: SPOT_COUNT }, (_, index) => ({
          level: 0,
          number: String(index + 1),
          type: 'STANDARD' as const,
        })),
      },
    });
    assert.ok('spots' in created, 'a bulk create answers {spots}');
    spots = created.spots;
    const key = await admin.POST('/api/v1/admin/api-keys', { body: { name: 'typescript gate', role: 'operator' } });
    assert.equal(key.role, 'operator');
    operator = createGarageClient({ baseUrl, apiKey: key.key });
  });

  it('checks in, quotes, checks out and refunds', async () => {
    const plate = uniquePlate();
    const entry = await operator.POST('/api/v1/garages/{id}/check-in', {
      params: { path: { id: garage.id } },
      body: { licensePlate: plate.toLowerCase(), vehicleType: 'CAR' },
    });
    assert.equal(entry.session.licensePlate, plate, 'the plate comes back normalised');
    assert.equal(entry.session.status, 'ACTIVE');
    assert.equal(entry.spot.garageId, garage.id);
    assert.equal(entry.spot.status, 'OCCUPIED');
    assert.equal(entry.ticket.sessionId, entry.session.id);

    const quote = await operator.GET('/api/v1/sessions/{id}/quote', { params: { path: { id: entry.session.id } } });
    assert.equal(quote.feeCents, 0, 'within the grace period');

    const exit = await operator.POST('/api/v1/sessions/{id}/check-out', {
      params: { path: { id: entry.session.id } },
      body: { paymentMethod: 'CARD' },
    });
    assert.equal(exit.session.status, 'COMPLETED');
    assert.equal(exit.payment.status, 'COMPLETED');
    assert.equal(exit.ticket.status, 'PAID');

    const forbidden = await rejection(
      operator.POST('/api/v1/payments/{id}/refund', { params: { path: { id: exit.payment.id } } }),
    );
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.code, 'FORBIDDEN');

    const refunded = await admin.POST('/api/v1/payments/{id}/refund', { params: { path: { id: exit.payment.id } } });
    assert.equal(refunded.status, 'REFUNDED');
  });

  it('reads a 409 through GarageError', async () => {
    const plate = uniquePlate();
    const checkIn = (): Promise<unknown> =>
      operator.POST('/api/v1/garages/{id}/check-in', {
        params: { path: { id: garage.id } },
        body: { licensePlate: plate, vehicleType: 'CAR' },
      });
    await checkIn();
    const error = await rejection(checkIn());
    assert.equal(error.status, 409);
    assert.equal(error.code, 'VEHICLE_ALREADY_PARKED');
    assert.match(error.message, new RegExp(plate));
    assert.ok(isGarageError(error, 'VEHICLE_ALREADY_PARKED'));
    assert.equal(isGarageError(error, 'GARAGE_FULL'), false);
    assert.equal(error.retryAfter, null);
    assert.equal(error.method, 'POST');
    assert.equal(error.url, `${baseUrl}/api/v1/garages/${garage.id}/check-in`);
  });

  it('reads a 400 and the fields it names through GarageError', async () => {
    const error = await rejection(
      operator.POST('/api/v1/garages/{id}/check-in', {
        params: { path: { id: garage.id } },
        // A new plate needs a vehicle type: the contract's 400, naming the field.
        body: { licensePlate: uniquePlate() },
      }),
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, 'VALIDATION_ERROR');
    const fields = error.details['fields'];
    assert.ok(typeof fields === 'object' && fields !== null && 'vehicleType' in fields, JSON.stringify(error.details));
  });

  it('reads a 401 through GarageError', async () => {
    const stranger = createGarageClient({ baseUrl, apiKey: 'not-a-key-of-this-service' });
    const error = await rejection(stranger.GET('/api/v1/garages/{id}', { params: { path: { id: garage.id } } }));
    assert.equal(error.status, 401);
    assert.equal(error.code, 'UNAUTHENTICATED');
  });

  it('pages through a list longer than one page', async () => {
    const cursors: (string | undefined)[] = [];
    const listed: Spot[] = [];
    for await (const spot of paginate((page) => {
      cursors.push(page.cursor);
      return admin.GET('/api/v1/garages/{id}/spots', {
        params: { path: { id: garage.id }, query: { limit: PAGE_SIZE, ...page } },
      });
    })) {
      listed.push(spot);
    }
    assert.equal(cursors.length, Math.ceil(SPOT_COUNT / PAGE_SIZE));
    assert.equal(cursors[0], undefined, 'the first page is asked for without a cursor');
    assert.ok(cursors.slice(1).every((cursor) => typeof cursor === 'string'));
    assert.deepEqual(
      listed.map((spot) => spot.id),
      spots.map((spot) => spot.id),
      'every spot once, ordered by level then number',
    );
  });

  it('stops fetching when the loop stops', async () => {
    let pages = 0;
    const seen: Session[] = [];
    for await (const session of paginate((page) => {
      pages += 1;
      return admin.GET('/api/v1/sessions', { params: { query: { garageId: garage.id, limit: 1, ...page } } });
    })) {
      seen.push(session);
      break;
    }
    assert.equal(seen.length, 1);
    assert.equal(pages, 1);
  });
});
