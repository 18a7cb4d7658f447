// The live service the live tests talk to (GARAGE_URL, GARAGE_ADMIN_API_KEY), and their helpers.
// tests/api/test_typescript_client.py starts one (uvicorn, the engine, a fresh SQLite file) and runs
// `npm test` with both set. Not a test file itself: the live ones import it.
import assert from 'node:assert/strict';

import { createGarageClient, GarageError } from '../src/index.js';
import type { GarageClient } from '../src/index.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: these tests talk to a running Garage service. ` +
        'Run them through `.venv/bin/pytest -q tests/api/test_typescript_client.py` (it starts one), ' +
        'or set GARAGE_URL and GARAGE_ADMIN_API_KEY yourself.',
    );
  }
  return value;
}

export const baseUrl = required('GARAGE_URL');
export const admin: GarageClient = createGarageClient({ baseUrl, apiKey: required('GARAGE_ADMIN_API_KEY') });

/** The GarageError `call` rejects with (the test fails when it resolves or throws something else). */
export async function rejection(call: Promise<unknown>): Promise<GarageError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof GarageError, `expected a GarageError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

let plates = 0;

export function uniquePlate(): string {
  // Plates are 2..10 of A-Z0-9; every run of the suite uses new ones: the time, a random character
  // (two test files may run at once) and a counter (one file may ask twice in a millisecond).
  plates += 1;
  const time = Date.now().toString(36).toUpperCase().slice(-5);
  const random = Math.floor(Math.random() * 36).toString(36).toUpperCase();
  return `TS${time}${random}${String(plates % 100).padStart(2, '0')}`;
}
