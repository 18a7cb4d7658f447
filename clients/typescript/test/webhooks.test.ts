// verifyWebhookSignature against signatures made independently of it: one vector hard-coded from
// Python's hmac module, and more computed by Python (python3 on PATH) while the test runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';

import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from '../src/webhooks.js';

// Made with Python 3.11:
//   hmac.new(SECRET.encode(), (T + ".").encode() + BODY.encode(), hashlib.sha256).hexdigest()
const SECRET = 'whsec_test_0123456789abcdef';
const T = '1767225600';
const BODY = '{"id":"00000000000000000042","type":"session.started","garageId":"g1","data":{"note":"café"}}';
const V1 = '469d014b8706b56575f24735f61686989120bdd884f4b29ac647b8b2bf102674';
const HEADER = `t=${T},v1=${V1}`;
const AT_T = new Date(Number(T) * 1000);

/** Python's hex HMAC-SHA256 of `<t>.<body>` keyed by `secret`'s UTF-8 bytes; the body goes as hex to keep its bytes. */
function pythonSignature(secret: string, t: string, body: Uint8Array): string {
  const program = [
    'import hashlib, hmac, sys',
    'secret, t, body = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])',
    'print(hmac.new(secret.encode("utf-8"), t.encode() + b"." + body, hashlib.sha256).hexdigest())',
  ].join('\n');
  const result = spawnSync('python3', ['-c', program, secret, t, Buffer.from(body).toString('hex')], {
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `python3 failed (it computes the expected signatures): ${String(result.error)} ${result.stderr}`);
  return result.stdout.trim();
}

describe('verifyWebhookSignature', () => {
  it('accepts the Python-made vector, as text or as bytes', () => {
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, header: HEADER, now: AT_T }), true);
    const bytes = new TextEncoder().encode(BODY);
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: bytes, header: HEADER, now: AT_T }), true);
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: Buffer.from(bytes), header: HEADER, now: AT_T }), true);
  });

  it('agrees with Python on random secrets and bodies', () => {
    const t = String(Math.floor(Date.now() / 1000));
    const cases: [string, Uint8Array][] = [
      ['s3cr\u00e9t \u{1F697}', new TextEncoder().encode('{"data":{"plate":"AB12CD","note":"\u00fcber \u{1F17F}"}}')],
      [randomBytes(24).toString('base64url'), new Uint8Array(0)],
      [randomBytes(32).toString('hex'), randomBytes(3000)],
    ];
    for (const [secret, body] of cases) {
      const header = `t=${t},v1=${pythonSignature(secret, t, body)}`;
      assert.equal(verifyWebhookSignature({ secret, body, header }), true, `secret ${JSON.stringify(secret)}`);
      assert.equal(verifyWebhookSignature({ secret: `${secret}x`, body, header }), false);
    }
  });

  it('rejects another secret, a changed body and a changed timestamp', () => {
    assert.equal(verifyWebhookSignature({ secret: 'whsec_other', body: BODY, header: HEADER, now: AT_T }), false);
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: `${BODY} `, header: HEADER, now: AT_T }), false);
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY.replace('café', 'cafe'), header: HEADER, now: AT_T }), false);
    const later = `t=${String(Number(T) + 1)},v1=${V1}`;
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, header: later, now: AT_T }), false);
  });

  it('accepts a timestamp within the tolerance and rejects one outside it, either way', () => {
    const at = (seconds: number): Date => new Date((Number(T) + seconds) * 1000);
    const check = (now: Date, toleranceSeconds?: number): boolean =>
      verifyWebhookSignature({ secret: SECRET, body: BODY, header: HEADER, now, toleranceSeconds });
    assert.equal(check(at(300)), true, 'exactly the default 300 s late');
    assert.equal(check(at(300.5)), false);
    assert.equal(check(at(-300)), true, 'exactly 300 s early (a clock ahead)');
    assert.equal(check(at(-301)), false);
    assert.equal(check(at(301), 600), true);
    assert.equal(check(at(11), 10), false);
    assert.equal(check(AT_T, 0), true);
    // The default: the clock, far past T.
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, header: HEADER }), false);
  });

  it('takes any v1 of the header, in any order, with spaces and unknown schemes', () => {
    const wrong = 'ab'.repeat(32);
    for (const header of [
      `t=${T},v1=${wrong},v1=${V1}`,
      `v1=${V1}, t=${T}`,
      `t=${T},v0=${wrong},v1=${V1.toUpperCase()},v2=whatever`,
    ]) {
      assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, header, now: AT_T }), true, header);
    }
  });

  it('rejects missing and malformed headers', () => {
    for (const header of [
      null,
      undefined,
      '',
      V1,
      `v1=${V1}`,
      `t=${T}`,
      `t=${T},v1=${V1.slice(2)}`,
      `t=${T},v1=${V1}00`,
      `t=${T},v1=${V1.slice(0, -1)}g`,
      `t=${T}.0,v1=${V1}`,
      `t=-${T},v1=${V1}`,
      `t=${T},t=${T},v1=${V1}`,
      `t=${T};v1=${V1}`,
    ]) {
      assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, header, now: AT_T }), false, String(header));
    }
  });

  it('refuses a negative tolerance and an invalid date rather than accepting everything', () => {
    assert.throws(() => verifyWebhookSignature({ secret: SECRET, body: BODY, header: HEADER, toleranceSeconds: -1 }), RangeError);
    assert.throws(
      () => verifyWebhookSignature({ secret: SECRET, body: BODY, header: HEADER, toleranceSeconds: Number.NaN }),
      RangeError,
    );
    assert.throws(() => verifyWebhookSignature({ secret: SECRET, body: BODY, header: HEADER, now: new Date('no') }), RangeError);
  });

  it('names the delivery headers as the contract does', () => {
    assert.equal(SIGNATURE_HEADER, 'Garage-Signature');
    assert.equal(EVENT_ID_HEADER, 'Garage-Event-Id');
  });
});
