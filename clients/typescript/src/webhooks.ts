// For webhook receivers (servers): node:crypto, so it is an entry of its own
// (`@garage/client/webhooks`), keeping the main entry free of Node modules for browser bundles.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries a delivery's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'Garage-Signature';
/** The header that carries the delivered event's id (deliveries repeat: deduplicate by it). */
export const EVENT_ID_HEADER = 'Garage-Event-Id';
/** How far a signature's time may be from now, by default: five minutes either way. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export interface WebhookSignatureCheck {
  /** The webhook's secret, as `POST /admin/webhooks` answered it. */
  readonly secret: string;
  /**
   * The request body exactly as received (the bytes, or their UTF-8 text), not parsed and
   * serialised again: the signature is over the bytes.
   */
  readonly body: string | Uint8Array;
  /** The `Garage-Signature` header's value (null or undefined when the request had none). */
  readonly header: string | null | undefined;
  /** How far the signed time may be from `now`, in seconds (a replayed old delivery fails). */
  readonly toleranceSeconds?: number | undefined;
  /** The time to check against; the clock by default. */
  readonly now?: Date | undefined;
}

/**
 * Whether a webhook delivery was signed with `secret`, within `toleranceSeconds` of now: the
 * header's `v1` is the hex HMAC-SHA256, keyed by the secret's UTF-8 bytes, of `<t>.` followed by
 * the body's bytes. Compared in constant time; any `v1` of the header may match (so a header
 * signed with two secrets verifies with either); a missing or malformed header is false.
 */
export function verifyWebhookSignature(check: WebhookSignatureCheck): boolean {
  const tolerance = check.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Number.isNaN(tolerance) || tolerance < 0) {
    throw new RangeError(`toleranceSeconds must be 0 or more, got ${String(tolerance)}`);
  }
  const signed = parseSignatureHeader(check.header ?? '');
  if (signed === null) {
    return false;
  }
  const now = (check.now ?? new Date()).getTime() / 1000;
  if (Number.isNaN(now)) {
    throw new RangeError('now is an invalid Date');
  }
  if (Math.abs(now - Number(signed.timestamp)) > tolerance) {
    return false;
  }
  const expected = createHmac('sha256', Buffer.from(check.secret, 'utf8'))
    // The timestamp as the header spells it: those are the bytes that were signed.
    .update(`${signed.timestamp}.`, 'utf8')
    .update(typeof check.body === 'string' ? Buffer.from(check.body, 'utf8') : check.body)
    .digest();
  let valid = false;
  for (const signature of signed.signatures) {
    // Every candidate is compared, so the time taken does not tell which one matched.
    if (signature.length === expected.length && timingSafeEqual(signature, expected)) {
      valid = true;
    }
  }
  return valid;
}

/** `t=<digits>` and each well-formed `v1=<64 hex>`; other keys (later schemes) are ignored. */
function parseSignatureHeader(header: string): { timestamp: string; signatures: Buffer[] } | null {
  let timestamp: string | null = null;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at < 0) {
      continue;
    }
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === 't') {
      if (timestamp !== null || !/^\d{1,12}$/.test(value)) {
        return null;
      }
      timestamp = value;
    } else if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  return timestamp === null || signatures.length === 0 ? null : { timestamp, signatures };
}
