import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINE_COMMIT, ENGINE_VERSION, parseEngineVersion } from '../src/version.js';

test('the engine version and commit come from the wasm package version', () => {
  assert.deepEqual(parseEngineVersion('5.18.0-7.0123456789abcdef0123456789abcdef01234567'),
    { version: '5.18.0', commit: '0123456789abcdef0123456789abcdef01234567' });
  assert.equal(ENGINE_VERSION, '5.17.0');
  assert.match(ENGINE_COMMIT, /^[0-9a-f]{40}$/);
});

test('a wasm package version without a commit is refused, not printed', () => {
  for (const version of ['5.17.0', '5.17.0-31.0123abcd', '5.17.0-dev.1']) {
    assert.throws(() => parseEngineVersion(version), /expected <version>-<build>\.<40-hex commit>/, version);
  }
});
