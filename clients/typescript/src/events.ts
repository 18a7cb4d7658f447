import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Client } from 'openapi-fetch';

import { GarageError, UNEXPECTED_RESPONSE } from './errors.js';
import type { operations, paths } from './schema.js';
import type { Event, EventList, EventType } from './types.js';

/** Which events: one garage's, some types (both optional: every event the key may read). */
export interface EventFilter {
  /** Only this garage's events. */
  readonly garageId?: string | undefined;
  /** Only these types; absent or empty: all. */
  readonly types?: readonly EventType[] | undefined;
}

export interface EventListOptions extends EventFilter {
  /** An event id: the events after it (from the oldest kept when absent). */
  readonly after?: string | undefined;
  /** Events per page (the service's default 100, at most 1000). */
  readonly limit?: number | undefined;
}

export interface EventStreamOptions extends EventFilter {
  /** Resume after this event id; absent: the events committed from the time the stream opens. */
  readonly after?: string | undefined;
  /** Aborting it closes the connection and ends the loop (without an error). */
  readonly signal?: AbortSignal | undefined;
  /** Called each time a connection opened (the service answered 200): e.g. to show "live". */
  readonly onOpen?: (() => void) | undefined;
  /** Called each time a connection dropped, before waiting to open the next one. */
  readonly onReconnect?: ((reconnect: Reconnect) => void) | undefined;
  /**
   * Milliseconds without a byte from the service after which the connection counts as dropped
   * (a network that went away without closing it). The service sends a comment at least every
   * 15 s, so the default, 45 000, is three of those. Infinity: no limit.
   */
  readonly idleTimeoutMs?: number | undefined;
}

/** Why a stream reconnects, and when. */
export interface Reconnect {
  /** What ended the connection (fetch's TypeError, a 5xx GarageError, an idle timeout); undefined when the service ended the stream. */
  readonly error: unknown;
  /** How long the stream waits before connecting again. */
  readonly delayMs: number;
  /** The id it resumes after (the last event yielded), or the `after` it started with. */
  readonly after: string | undefined;
}

/** `client.events`: the catch-up list and the live stream of the service's events. */
export interface GarageEvents {
  /** One page of events after `options.after`, oldest first; `nextCursor` is the next page's `after` (null: none now). */
  list(options?: EventListOptions): Promise<EventList>;
  /**
   * Every event as it commits, as an async iterator: `for await (const event of client.events.stream())`.
   * A dropped connection (network error, the stream's end, a 5xx, nothing heard for
   * `idleTimeoutMs`) is opened again after a short backoff, resuming after the last event yielded:
   * nothing is lost or repeated. It runs until the loop stops (break, return, throw) or `signal`
   * is aborted. A 4xx answer (400 bad `after`, 401, 403, 404 unknown garage, 410 `EVENTS_EXPIRED`:
   * start over from `list`) rejects with a GarageError and ends it.
   */
  stream(options?: EventStreamOptions): AsyncGenerator<Event, void, undefined>;
}

/** `GET /api/v1/events` through the client's throwing GET. */
export type ListEvents = (query: NonNullable<operations['listEvents']['parameters']['query']>) => Promise<EventList>;

/** The first wait after a dropped connection; it doubles while connections fail, up to RECONNECT_MAX_MS. */
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MAX_MS = 10_000;
// A Retry-After longer than this (a proxy's "come back in an hour") is cut to it: a gate keeps trying.
const RETRY_AFTER_MAX_MS = 60_000;
const IDLE_TIMEOUT_MS = 45_000;

export function createEvents(raw: Client<paths>, listEvents: ListEvents): GarageEvents {
  return {
    list: (options = {}) =>
      listEvents({
        ...filterQuery(options),
        ...(options.after === undefined ? {} : { after: options.after }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      }),
    stream: (options = {}) => streamEvents(raw, options),
  };
}

function filterQuery(filter: EventFilter): { garageId?: string; types?: string } {
  return {
    ...(filter.garageId === undefined ? {} : { garageId: filter.garageId }),
    // The query's form is comma-separated; an empty one would be a 400, not "all".
    ...(filter.types === undefined || filter.types.length === 0 ? {} : { types: filter.types.join(',') }),
  };
}

async function* streamEvents(raw: Client<paths>, options: EventStreamOptions): AsyncGenerator<Event, void, undefined> {
  const idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  if (!(idleTimeoutMs > 0)) {
    throw new RangeError(`idleTimeoutMs must be more than 0 (Infinity: no limit), got ${String(idleTimeoutMs)}`);
  }
  const outer = options.signal;
  if (outer?.aborted === true) {
    return;
  }
  // Ends everything this stream has open: the consumer's abort, or the consumer leaving the loop
  // (the finally below runs when `for await` breaks while the generator waits at a yield).
  const stop = new AbortController();
  const forwardAbort = (): void => stop.abort();
  outer?.addEventListener('abort', forwardAbort, { once: true });
  let lastId: string | undefined;
  let firstDelay = RECONNECT_FIRST_MS;
  let delay = firstDelay;
  try {
    while (!stop.signal.aborted) {
      let dropped: unknown;
      let waitAtLeast = 0;
      const connection = new AbortController();
      const endConnection = (): void => connection.abort();
      stop.signal.addEventListener('abort', endConnection, { once: true });
      // A network that vanished without a FIN leaves a read pending forever: silence longer
      // than a few keep-alive periods ends the connection instead.
      let idle: Error | undefined;
      let idleTimer: ReturnType<typeof setTimeout> | undefined;
      const heard = (): void => {
        clearTimeout(idleTimer);
        if (idleTimeoutMs === Infinity) {
          return;
        }
        idleTimer = setTimeout(() => {
          idle = new Error(`no data from the event stream for ${String(idleTimeoutMs)} ms`);
          connection.abort(idle);
        }, idleTimeoutMs);
      };
      try {
        heard();
        let opened: Opened | Retry;
        try {
          // After an event, the header carries the resume point (it wins over the query); before
          // one, `after` goes in the query, where any text is valid (a header could not carry some).
          opened = await open(raw, options, lastId, lastId === undefined ? options.after : undefined, connection.signal);
        } catch (error) {
          if (stop.signal.aborted) {
            return;
          }
          if (error instanceof GarageError) {
            throw error;
          }
          opened = { retry: idle ?? error, waitMs: 0 };
        }
        if ('retry' in opened) {
          dropped = opened.retry;
          waitAtLeast = opened.waitMs;
        } else {
          options.onOpen?.();
          const reader = opened.body.getReader();
          const decoder = new TextDecoder();
          const messages: EventSourceMessage[] = [];
          const parser = createParser({
            onEvent: (message) => messages.push(message),
            // The service's `retry:` field sets the reconnection delay, as in EventSource (up to the maximum).
            onRetry: (ms) => {
              firstDelay = Math.min(ms, RECONNECT_MAX_MS);
              delay = firstDelay;
            },
          });
          for (;;) {
            let chunk: Awaited<ReturnType<typeof reader.read>>;
            try {
              chunk = await reader.read();
            } catch (error) {
              if (stop.signal.aborted) {
                return;
              }
              dropped = idle ?? error;
              break;
            }
            if (chunk.done) {
              break;
            }
            // The silence that counts is the service's: none while the consumer handles events.
            clearTimeout(idleTimer);
            parser.feed(decoder.decode(chunk.value, { stream: true }));
            for (const message of messages.splice(0)) {
              const event = toEvent(message, opened.url);
              lastId = event.id;
              // A connection that delivers works: the next drop is retried quickly again.
              delay = firstDelay;
              yield event;
            }
            heard();
          }
        }
      } finally {
        clearTimeout(idleTimer);
        stop.signal.removeEventListener('abort', endConnection);
        connection.abort();
      }
      if (stop.signal.aborted) {
        return;
      }
      // Jitter, so that the gates of a garage do not all come back at the same instant after a restart.
      const wait = Math.max(waitAtLeast, Math.round(delay * (0.5 + Math.random() / 2)));
      options.onReconnect?.({ error: dropped, delayMs: wait, after: lastId ?? options.after });
      await sleep(wait, stop.signal);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    }
  } finally {
    outer?.removeEventListener('abort', forwardAbort);
    stop.abort();
  }
}

interface Opened {
  readonly body: ReadableStream<Uint8Array>;
  readonly url: string;
}

/** A connection to try again: the answer's error, and the least wait its `Retry-After` asks for. */
interface Retry {
  readonly retry: unknown;
  readonly waitMs: number;
}

async function open(
  raw: Client<paths>,
  filter: EventFilter,
  lastId: string | undefined,
  after: string | undefined,
  signal: AbortSignal,
): Promise<Opened | Retry> {
  const { data, error, response } = await raw.GET('/api/v1/events/stream', {
    params: { query: { ...filterQuery(filter), ...(after === undefined ? {} : { after }) } },
    headers: { Accept: 'text/event-stream', ...(lastId === undefined ? {} : { 'Last-Event-ID': lastId }) },
    parseAs: 'stream',
    signal,
  });
  if (!response.ok) {
    const failure = GarageError.fromResponse(response, error, 'GET');
    if (response.status < 500) {
      throw failure;
    }
    return { retry: failure, waitMs: Math.min((failure.retryAfter ?? 0) * 1000, RETRY_AFTER_MAX_MS) };
  }
  const type = response.headers.get('Content-Type') ?? '';
  if (data == null || !/^text\/event-stream\s*(;|$)/i.test(type)) {
    // Something between the client and the service answered instead (a login page, a cache):
    // retrying would get the same, so it ends the stream as EventSource does.
    throw new GarageError({
      status: response.status,
      code: UNEXPECTED_RESPONSE,
      message: `expected an event stream, got ${type === '' ? 'no Content-Type' : type}`,
      method: 'GET',
      url: response.url,
    });
  }
  return { body: data, url: response.url };
}

function toEvent(message: EventSourceMessage, url: string): Event {
  let value: unknown;
  try {
    value = JSON.parse(message.data);
  } catch {
    value = undefined;
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    !('id' in value && typeof value.id === 'string') ||
    !('type' in value && typeof value.type === 'string')
  ) {
    throw new GarageError({
      status: 200,
      code: UNEXPECTED_RESPONSE,
      message: 'the event stream sent data that is not an Event',
      details: { data: message.data.slice(0, 500) },
      method: 'GET',
      url,
    });
  }
  return value as Event;
}

/** Resolves after `ms`, or as soon as `signal` aborts (the caller checks which). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
