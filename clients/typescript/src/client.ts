import createClient, { type Client, type FetchResponse, type MaybeOptionalInit } from 'openapi-fetch';
import type { HttpMethod, MediaType, PathsWithMethod, RequiredKeysOf } from 'openapi-typescript-helpers';

import { GarageError } from './errors.js';
import { createEvents, type GarageEvents } from './events.js';
import type { paths } from './schema.js';

export interface GarageClientOptions {
  /** Where the service answers, e.g. `http://127.0.0.1:8000` (the paths carry `/api/v1`). */
  baseUrl: string;
  /** An API key (`Authorization: Bearer <key>`); its role decides what the calls may do. */
  apiKey: string;
  /** Another fetch (tests, instrumentation, a runtime without a global one); the global by default. */
  fetch?: (input: Request) => Promise<Response>;
}

// openapi-fetch's own rule for the second argument (its InitParam, not exported): optional exactly
// when the operation has no required parameter or body.
type InitParam<Init> =
  RequiredKeysOf<Init> extends never ? [(Init & Record<string, unknown>)?] : [Init & Record<string, unknown>];

/** What a successful call resolves to: the 2xx body, typed by the operation (undefined for 204). */
export type SuccessData<Operation, Init> =
  Operation extends Record<string | number, unknown>
    ? Extract<FetchResponse<Operation, Init, MediaType>, { error?: never }>['data']
    : never;

/**
 * A call of one HTTP method: the same arguments as openapi-fetch's (path, then `{params, body}`),
 * resolving to the answer's data; an error answer rejects with a GarageError.
 */
export type GarageMethod<Method extends HttpMethod> = <
  Path extends PathsWithMethod<paths, Method>,
  Init extends MaybeOptionalInit<paths[Path], Method>,
>(
  url: Path,
  ...init: InitParam<Init>
) => Promise<SuccessData<paths[Path][Method], Init>>;

export interface GarageClient {
  GET: GarageMethod<'get'>;
  POST: GarageMethod<'post'>;
  PUT: GarageMethod<'put'>;
  PATCH: GarageMethod<'patch'>;
  DELETE: GarageMethod<'delete'>;
  /** The service's events: `list` (catch up) and `stream` (live, Server-Sent Events through fetch). */
  readonly events: GarageEvents;
  readonly baseUrl: string;
  /**
   * The same calls without throwing (`{data, error, response}`), for what the typed methods do not
   * cover, e.g. a report as CSV (`parseAs: 'text'` with `Accept: text/csv`).
   */
  readonly raw: Client<paths>;
}

/**
 * A client for one service and one API key. Calls resolve to the typed answer, or reject with a
 * GarageError (an error answer) or fetch's own TypeError (the service could not be reached).
 */
export function createGarageClient(options: GarageClientOptions): GarageClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const raw = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const GET = throwing<'get'>(raw, 'GET');
  return {
    GET,
    POST: throwing(raw, 'POST'),
    PUT: throwing(raw, 'PUT'),
    PATCH: throwing(raw, 'PATCH'),
    DELETE: throwing(raw, 'DELETE'),
    events: createEvents(raw, (query) => GET('/api/v1/events', { params: { query } })),
    baseUrl,
    raw,
  };
}

type UntypedCall = (
  url: string,
  init?: Record<string, unknown>,
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

function throwing<Method extends HttpMethod>(raw: Client<paths>, method: Uppercase<Method>): GarageMethod<Method> {
  // The public type (GarageMethod) carries the per-path typing; at run time every method is the
  // same call, so it goes through one untyped signature.
  const call = raw[method] as unknown as UntypedCall;
  const unwrapped = async (url: string, init?: Record<string, unknown>): Promise<unknown> => {
    const { data, error, response } = await call(url, init);
    // `response.ok`, not `error`: openapi-fetch leaves `error` undefined for an empty error body.
    if (!response.ok) {
      throw GarageError.fromResponse(response, error, method);
    }
    return data;
  };
  return unwrapped as GarageMethod<Method>;
}
