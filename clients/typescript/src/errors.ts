import type { components } from './schema.js';

/** The contract's error envelope: the body of every non-2xx answer of the service. */
export type ErrorEnvelope = components['schemas']['Error'];

/**
 * The `code` of an error answer (`VALIDATION_ERROR`, `VEHICLE_ALREADY_PARKED`, ...), as the OpenAPI
 * document types it. The contract may add codes, so code that switches on it keeps a default branch.
 */
export type ErrorCode = ErrorEnvelope['error']['code'];

/**
 * The code of a GarageError made from an answer that did not carry the envelope (a proxy's HTML
 * 502, an empty body): the client's own, never sent by the service.
 */
export const UNEXPECTED_RESPONSE = 'UNEXPECTED_RESPONSE';

/** An error answer of the service (or of something between it and the client), typed. */
export class GarageError extends Error {
  override readonly name = 'GarageError';
  /** The HTTP status, e.g. 409. */
  readonly status: number;
  /** The contract's code, e.g. `VEHICLE_ALREADY_PARKED`; `UNEXPECTED_RESPONSE` without an envelope. */
  readonly code: ErrorCode;
  /** What the service says about the error; for `VALIDATION_ERROR`, the bad fields. */
  readonly details: Readonly<Record<string, unknown>>;
  /**
   * Seconds to wait before trying again, from the `Retry-After` header (503
   * `DATABASE_UNAVAILABLE`); null when the answer has none.
   */
  readonly retryAfter: number | null;
  /** The request that failed, for logs. */
  readonly method: string;
  readonly url: string;

  constructor(init: {
    status: number;
    code: ErrorCode;
    message: string;
    details?: Readonly<Record<string, unknown>>;
    retryAfter?: number | null;
    method?: string;
    url?: string;
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.retryAfter = init.retryAfter ?? null;
    this.method = init.method ?? '';
    this.url = init.url ?? '';
  }

  /**
   * The error an answer stands for. `body` is the answer's body already read (parsed JSON, or the
   * text when it was not JSON); undefined when it was empty.
   */
  static fromResponse(response: Response, body: unknown, method = ''): GarageError {
    const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
    const common = { status: response.status, retryAfter, method, url: response.url };
    const envelope = asEnvelope(body);
    if (envelope !== null) {
      return new GarageError({ ...common, ...envelope });
    }
    const text = typeof body === 'string' ? body.slice(0, 500) : '';
    return new GarageError({
      ...common,
      code: UNEXPECTED_RESPONSE,
      message: `HTTP ${String(response.status)} ${response.statusText}`.trim(),
      details: text === '' ? {} : { body: text },
    });
  }
}

/** Whether `error` is a GarageError, optionally one with this code: `catch (e) { if (isGarageError(e, 'GARAGE_FULL')) ... }`. */
export function isGarageError(error: unknown, code?: ErrorCode): error is GarageError {
  return error instanceof GarageError && (code === undefined || error.code === code);
}

function asEnvelope(body: unknown): { code: string; message: string; details: Record<string, unknown> } | null {
  if (!isRecord(body) || !isRecord(body['error'])) {
    return null;
  }
  const { code, message, details } = body['error'];
  if (typeof code !== 'string' || typeof message !== 'string') {
    return null;
  }
  return { code, message, details: isRecord(details) ? details : {} };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110, 10.2.3); both become seconds from now. */
function parseRetryAfter(header: string | null): number | null {
  if (header === null || header.trim() === '') {
    return null;
  }
  const value = header.trim();
  if (/^\d+$/.test(value)) {
    return Number(value);
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    return null;
  }
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
