// GarageError from answers the live service does not give on demand: a Retry-After (503 while the
// database is busy) and bodies that are not the contract's envelope (a proxy's page, an empty body).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { GarageError, UNEXPECTED_RESPONSE } from '../src/index.js';

function answer(status: number, body: string | null, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers });
}

describe('GarageError.fromResponse', () => {
  it('reads the envelope and Retry-After in seconds', () => {
    const body = { error: { code: 'DATABASE_UNAVAILABLE', message: 'busy', details: { reason: 'locked' } } };
    const error = GarageError.fromResponse(answer(503, JSON.stringify(body), { 'Retry-After': '2' }), body, 'POST');
    assert.equal(error.status, 503);
    assert.equal(error.code, 'DATABASE_UNAVAILABLE');
    assert.equal(error.message, 'busy');
    assert.deepEqual(error.details, { reason: 'locked' });
    assert.equal(error.retryAfter, 2);
    assert.equal(error.method, 'POST');
    assert.equal(error.name, 'GarageError');
    assert.ok(error instanceof Error);
  });

  it('turns a Retry-After date into seconds from now', () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    const error = GarageError.fromResponse(answer(503, null, { 'Retry-After': at }), undefined);
    assert.ok(error.retryAfter !== null && error.retryAfter > 25 && error.retryAfter <= 31, String(error.retryAfter));
  });

  it('ignores a Retry-After it cannot read', () => {
    const error = GarageError.fromResponse(answer(503, null, { 'Retry-After': 'soon' }), undefined);
    assert.equal(error.retryAfter, null);
  });

  it('keeps a body that is not the envelope as details', () => {
    const error = GarageError.fromResponse(answer(502, '<html>Bad Gateway</html>'), '<html>Bad Gateway</html>');
    assert.equal(error.status, 502);
    assert.equal(error.code, UNEXPECTED_RESPONSE);
    assert.deepEqual(error.details, { body: '<html>Bad Gateway</html>' });
  });

  it('takes an envelope without details as empty details', () => {
    const body = { error: { code: 'NOT_FOUND', message: 'No such garage' } };
    const error = GarageError.fromResponse(answer(404, JSON.stringify(body)), body);
    assert.equal(error.code, 'NOT_FOUND');
    assert.deepEqual(error.details, {});
  });

  it('answers an empty error body with its status', () => {
    const error = GarageError.fromResponse(answer(500, null), undefined);
    assert.equal(error.code, UNEXPECTED_RESPONSE);
    assert.match(error.message, /^HTTP 500/);
    assert.deepEqual(error.details, {});
  });
});
