// client.events.stream against a local HTTP server that answers what the service does not on
// demand: SSE split at awkward places, CRLF and CR line ends, multi-line data, streams that end,
// break or fall silent, 5xx and non-SSE answers. Real sockets and the real fetch: the live tests
// (live.test.ts) check the service's own stream.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';

import { createGarageClient, GarageError, UNEXPECTED_RESPONSE } from '../src/index.js';
import type { Event, EventStreamOptions, Reconnect } from '../src/index.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface Seen {
  readonly url: URL;
  readonly lastEventId: string | undefined;
  readonly authorization: string | undefined;
  /** Resolves when the client closed this connection. */
  readonly closed: Promise<void>;
}

// Each request gets the next handler of the script; requests past its end wait forever (the test's
// signal or break ends them), so a test sees exactly the connections it scripted.
let script: Handler[] = [];
let seen: Seen[] = [];
let server: Server;
let baseUrl: string;

before(async () => {
  server = createServer((request, response) => {
    const closed = new Promise<void>((resolve) => response.on('close', () => resolve()));
    const header = request.headers['last-event-id'];
    seen.push({
      url: new URL(request.url ?? '/', 'http://localhost'),
      lastEventId: typeof header === 'string' ? header : undefined,
      authorization: request.headers.authorization,
      closed,
    });
    const handler = script.shift();
    if (handler !== undefined) {
      handler(request, response);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  script = [];
  seen = [];
});

function event(id: number, type: Event['type'] = 'spot.changed'): Event {
  return {
    id: String(id).padStart(20, '0'),
    type,
    garageId: 'g1',
    occurredAt: '2026-01-31T08:00:00.000Z',
    data: { spot: { id: `spot-${String(id)}` } },
  };
}

/** One event as the service frames it, with `retry: 10` first so reconnects here are quick. */
function frame(value: Event, lineEnd = '\n'): string {
  return [`retry: 10`, `id: ${value.id}`, `event: ${value.type}`, `data: ${JSON.stringify(value)}`, '', ''].join(lineEnd);
}

/** A 200 event stream that writes `chunks` one by one, then ends it (`end`) or leaves it open. */
function sse(chunks: readonly (string | Uint8Array)[], end: 'end' | 'open' | 'destroy' = 'end'): Handler {
  return (_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
    response.flushHeaders();
    void (async () => {
      for (const chunk of chunks) {
        response.write(chunk);
        // Separate writes arrive as separate reads: the parser must join what was split.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (end === 'end') {
        response.end();
      } else if (end === 'destroy') {
        response.socket?.destroy();
      }
    })();
  };
}

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_request, response) => {
    response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
}

function client(): ReturnType<typeof createGarageClient> {
  return createGarageClient({ baseUrl, apiKey: 'stream-test-key' });
}

/** The first `count` events of a stream (the loop breaks then), with a guard against hanging. */
async function take(count: number, options: EventStreamOptions = {}): Promise<Event[]> {
  const got: Event[] = [];
  if (count === 0) {
    return got;
  }
  for await (const value of client().events.stream({ signal: AbortSignal.timeout(5000), ...options })) {
    got.push(value);
    if (got.length === count) {
      break;
    }
  }
  return got;
}

describe('client.events.stream', () => {
  it('reads events split across reads, with comments, CRLF or CR line ends and multi-line data', async () => {
    const [one, two, three, four] = [event(1), event(2, 'occupancy.changed'), event(3), event(4, 'session.started')];
    const whole = `: connected\n\n${frame(one)}: keep-alive\n\n`;
    const crlf = frame(two, '\r\n');
    const betweenCrAndLf = crlf.indexOf('\r\n') + 1;
    // CR line ends; "data:" with and without the space; the lines joined with \n make the JSON again.
    const multiLine =
      `id: ${three.id}\r` +
      JSON.stringify(three, null, 2)
        .split('\n')
        .map((line, index) => (index % 2 === 0 ? `data: ${line}` : `data:${line}`))
        .join('\r') +
      '\r\r';
    const accents = new TextEncoder().encode(frame({ ...four, data: { note: 'caf\u00e9 \u20ac' } }));
    const inCharacter = accents.lastIndexOf(0xe2) + 1; // after the first of the euro sign's 3 bytes
    script = [
      sse([
        whole.slice(0, 7),
        whole.slice(7, 40),
        whole.slice(40),
        crlf.slice(0, betweenCrAndLf),
        crlf.slice(betweenCrAndLf),
        multiLine.slice(0, 30),
        multiLine.slice(30),
        accents.slice(0, inCharacter),
        accents.slice(inCharacter),
      ]),
    ];
    const got = await take(4);
    assert.deepEqual(
      got.map((value) => value.id),
      [one.id, two.id, three.id, four.id],
    );
    assert.deepEqual(got[0], one);
    assert.deepEqual(got[1], two);
    assert.deepEqual(got[2], three);
    assert.deepEqual(got[3]?.data, { note: 'caf\u00e9 \u20ac' });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.authorization, 'Bearer stream-test-key');
  });

  it('sends the filter, and `after` in the query until an event arrives', async () => {
    script = [sse([frame(event(8))])];
    const got = await take(1, { garageId: 'g1', types: ['spot.changed', 'occupancy.changed'], after: '00000000000000000007' });
    assert.equal(got[0]?.id, event(8).id);
    const url = seen[0]?.url;
    assert.equal(url?.pathname, '/api/v1/events/stream');
    assert.equal(url?.searchParams.get('garageId'), 'g1');
    assert.equal(url?.searchParams.get('types'), 'spot.changed,occupancy.changed');
    assert.equal(url?.searchParams.get('after'), '00000000000000000007');
    assert.equal(seen[0]?.lastEventId, undefined);
  });

  it('reconnects when the stream ends, with Last-Event-ID the last event it yielded', async () => {
    const reconnects: Reconnect[] = [];
    let opens = 0;
    script = [sse([': connected\n\n', frame(event(1)), frame(event(2))]), sse([frame(event(3))])];
    const got = await take(3, {
      after: '00000000000000000000',
      onOpen: () => (opens += 1),
      onReconnect: (reconnect) => reconnects.push(reconnect),
    });
    assert.deepEqual(
      got.map((value) => value.id),
      [1, 2, 3].map((id) => event(id).id),
    );
    assert.equal(seen.length, 2);
    assert.equal(seen[1]?.lastEventId, event(2).id);
    assert.equal(seen[1]?.url.searchParams.get('after'), null, 'the header alone carries the resume point');
    assert.equal(opens, 2);
    assert.equal(reconnects.length, 1);
    assert.equal(reconnects[0]?.error, undefined, 'the stream ended: no error');
    assert.equal(reconnects[0]?.after, event(2).id);
    // `retry: 10` set the delay (halved at most by the jitter).
    assert.ok((reconnects[0]?.delayMs ?? -1) >= 5 && (reconnects[0]?.delayMs ?? 99) <= 10, String(reconnects[0]?.delayMs));
  });

  it('reconnects after a broken connection, dropping the half-received event', async () => {
    const reconnects: Reconnect[] = [];
    const partial = frame(event(2)).slice(0, 60);
    script = [sse([frame(event(1)), partial], 'destroy'), sse([frame(event(2)), frame(event(3))])];
    const got = await take(3, { onReconnect: (reconnect) => reconnects.push(reconnect) });
    assert.deepEqual(
      got.map((value) => value.id),
      [1, 2, 3].map((id) => event(id).id),
    );
    assert.equal(seen[1]?.lastEventId, event(1).id);
    assert.ok(reconnects[0]?.error instanceof Error, `a network error: ${String(reconnects[0]?.error)}`);
  });

  it('reconnects when the service falls silent for idleTimeoutMs', async () => {
    const reconnects: Reconnect[] = [];
    script = [sse([frame(event(1)), ': connected\n\n'], 'open'), sse([frame(event(2))])];
    const started = performance.now();
    const got = await take(2, { idleTimeoutMs: 300, onReconnect: (reconnect) => reconnects.push(reconnect) });
    assert.deepEqual(
      got.map((value) => value.id),
      [event(1).id, event(2).id],
    );
    assert.ok(performance.now() - started >= 300);
    assert.match(String(reconnects[0]?.error), /no data from the event stream for 300 ms/);
    await seen[0]?.closed; // the silent connection was closed, not left open
  });

  it('retries a 503 after its Retry-After, a 502 with backoff', async () => {
    const reconnects: Reconnect[] = [];
    const busy = { error: { code: 'DATABASE_UNAVAILABLE', message: 'busy', details: {} } };
    script = [answer(503, busy, { 'Retry-After': '1' }), answer(502, 'Bad Gateway'), sse([frame(event(1))])];
    const got = await take(1, { onReconnect: (reconnect) => reconnects.push(reconnect) });
    assert.equal(got[0]?.id, event(1).id);
    assert.equal(seen.length, 3);
    const [first, second] = reconnects;
    assert.ok(first?.error instanceof GarageError && first.error.code === 'DATABASE_UNAVAILABLE', String(first?.error));
    assert.equal(first.delayMs, 1000, 'Retry-After: 1');
    assert.ok(second?.error instanceof GarageError && second.error.status === 502, String(second?.error));
    // the second wait is the doubled first one, with jitter: 500..1000 ms
    assert.ok(second.delayMs >= 500 && second.delayMs <= 1000, String(second.delayMs));
  });

  for (const [status, code] of [
    [400, 'VALIDATION_ERROR'],
    [401, 'UNAUTHENTICATED'],
    [403, 'FORBIDDEN'],
    [410, 'EVENTS_EXPIRED'],
  ] as const) {
    it(`throws a ${String(status)} as GarageError ${code} and does not reconnect`, async () => {
      script = [answer(status, { error: { code, message: 'no', details: {} } })];
      const stream = client().events.stream({ after: '00000000000000000001', onReconnect: () => assert.fail('reconnected') });
      await assert.rejects(stream.next(), (error) => error instanceof GarageError && error.status === status && error.code === code);
      assert.deepEqual(await stream.next(), { done: true, value: undefined }, 'the iteration is over');
      assert.equal(seen.length, 1);
    });
  }

  it('throws when something other than an event stream answers 200', async () => {
    script = [
      (_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html' });
        response.end('<html>Sign in to the hotel Wi-Fi</html>');
      },
    ];
    await assert.rejects(
      take(1),
      (error) => error instanceof GarageError && error.code === UNEXPECTED_RESPONSE && /text\/html/.test(error.message),
    );
  });

  it('throws on data that is not an Event', async () => {
    script = [sse(['id: 1\ndata: {"hello": "world"}\n\n'], 'open')];
    await assert.rejects(
      take(1),
      (error) => error instanceof GarageError && error.code === UNEXPECTED_RESPONSE && error.details['data'] === '{"hello": "world"}',
    );
    await seen[0]?.closed;
  });

  it('refuses an idle timeout that would drop every connection at once', async () => {
    for (const idleTimeoutMs of [0, -1, Number.NaN]) {
      await assert.rejects(client().events.stream({ idleTimeoutMs }).next(), RangeError);
    }
    assert.equal(seen.length, 0, 'nothing was opened');
  });

  it('closes the connection when the loop breaks', async () => {
    script = [sse([frame(event(1))], 'open')];
    const got = await take(1);
    assert.equal(got.length, 1);
    await seen[0]?.closed;
  });

  it('ends without an error when the signal aborts, connected or waiting to reconnect', async () => {
    const connected = new AbortController();
    script = [sse([': connected\n\n'], 'open')];
    const reading = take(1, { signal: connected.signal, onOpen: () => setTimeout(() => connected.abort(), 20) });
    assert.deepEqual(await reading, []);
    await seen[0]?.closed;

    const waiting = new AbortController();
    script = [answer(503, { error: { code: 'DATABASE_UNAVAILABLE', message: 'busy', details: {} } }, { 'Retry-After': '60' })];
    const started = performance.now();
    const waited = take(1, { signal: waiting.signal, onReconnect: () => waiting.abort() });
    assert.deepEqual(await waited, []);
    assert.ok(performance.now() - started < 5000, 'the 60 s wait was cut short');

    assert.deepEqual(await take(1, { signal: AbortSignal.abort() }), [], 'already aborted: nothing is opened');
  });
});
