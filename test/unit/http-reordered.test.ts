/**
 * A client whose reading and writing threads report their TLS calls when they
 * return (Go's net/http) can have the read of a response reported before the
 * write of its request: the parser holds such a read until the request is
 * written, so the exchange pairs as it happened. Over HTTP/2 the server's
 * frames of a stream can come before the client's HEADERS of it, or before
 * the END_STREAM of its request body: the same exchanges, nothing discarded.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpParser } from '../../lib/analyzers/http-parser';
import type { Event } from '../../lib/core/event';
import { PREFACE } from '../../lib/http/h2/frames';
import { http, run, ssl } from '../support/events';
import { captureH2, type H2Capture, type H2Exchange } from '../support/h2-capture';

const req = (path: string) => `POST ${path} HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
const resp = (body: string) => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describe('responses reported before their requests', () => {
  it('the first exchange of a connection and one in the middle of it pair with their requests', async () => {
    const p = new HttpParser();
    const evs = await run(p, [
      ssl('READ/RECV', resp('{"n":1}'), { conn: 'go', mono: 1000 }),
      ssl('WRITE/SEND', req('/one'), { conn: 'go', mono: 900_000 }),
      ssl('WRITE/SEND', req('/two'), { conn: 'go', mono: 2_000_000 }),
      ssl('READ/RECV', resp('{"n":2}'), { conn: 'go', mono: 3_000_000 }),
      // the third answer is read before its request's write returns, in two reads
      ssl('READ/RECV', resp('{"n":3}').slice(0, 20), { conn: 'go', mono: 4_000_000 }),
      ssl('READ/RECV', resp('{"n":3}').slice(20), { conn: 'go', mono: 4_100_000 }),
      ssl('WRITE/SEND', req('/three'), { conn: 'go', mono: 4_200_000 }),
    ]);
    const reqs = http(evs, 'request');
    const resps = http(evs, 'response');
    expect(reqs.map((r) => [r.seq, r.path])).toEqual([
      [0, '/one'],
      [1, '/two'],
      [2, '/three'],
    ]);
    expect(resps.map((r) => [r.seq, r.request?.path, r.body])).toEqual([
      [0, '/one', '{"n":1}'],
      [1, '/two', '{"n":2}'],
      [2, '/three', '{"n":3}'],
    ]);
    // the held answer takes its request's time: never a negative latency, and it comes after its request
    for (const r of resps) expect(r.latency_ms).toBeGreaterThanOrEqual(0);
    const order = evs.filter((e) => e.source === 'http' && (e.data.type === 'request' || e.data.type === 'response')).map((e) => e.data.type);
    expect(order).toEqual(['request', 'response', 'request', 'response', 'request', 'response']);
    expect(p.stats()).toMatchObject({ responses_reordered: 2, unpaired_responses: 0 });
  });

  it('a response whose request never comes is released (250 ms of event time later, or at the end) and counted as unpaired, not lost', async () => {
    const p = new HttpParser();
    const evs = await run(p, [
      ssl('READ/RECV', resp('{"lone":1}'), { conn: 'a', mono: 1000 }),
      // other traffic 300 ms later releases it
      ssl('WRITE/SEND', req('/x'), { conn: 'b', mono: 300_001_000 }),
      ssl('READ/RECV', resp('{"lone":2}'), { conn: 'c', mono: 300_002_000 }),
    ]);
    const resps = http(evs, 'response');
    expect(resps.map((r) => r.body).sort()).toEqual(['{"lone":1}', '{"lone":2}']);
    expect(resps.every((r) => r.request === null)).toBe(true);
    expect(p.stats()).toMatchObject({ unpaired_responses: 2, responses_reordered: 0 });
    // the ssl events themselves all pass on
    expect(evs.filter((e) => e.source === 'ssl')).toHaveLength(3);
  });

  it('a server (requests read, responses written) is never held', async () => {
    const p = new HttpParser();
    const evs = await run(p, [ssl('READ/RECV', req('/in'), { conn: 's', mono: 1000 }), ssl('WRITE/SEND', resp('{}'), { conn: 's', mono: 2000 })]);
    expect(http(evs, 'request')[0].role).toBe('server');
    expect(http(evs, 'response')[0].request?.path).toBe('/in');
    expect(p.stats().responses_reordered).toBe(0);
  });
});

/** One frame (or the preface) of a direction: its bytes, stream, and whether it ends the stream for its sender. */
interface Unit {
  bytes: Buffer;
  stream: number;
  type: number;
  ends: boolean;
}

function units(pieces: Buffer[], preface: boolean): Unit[] {
  const b = Buffer.concat(pieces);
  const out: Unit[] = [];
  let at = 0;
  if (preface) {
    out.push({ bytes: b.subarray(0, PREFACE.length), stream: 0, type: -1, ends: false });
    at = PREFACE.length;
  }
  while (at < b.length) {
    const len = b.readUIntBE(at, 3);
    const type = b[at + 3];
    const stream = b.readUInt32BE(at + 5) & 0x7fffffff;
    out.push({ bytes: b.subarray(at, at + 9 + len), stream, type, ends: (type === 0 || type === 1) && (b[at + 4] & 1) === 1 });
    at += 9 + len;
  }
  return out;
}

/**
 * The two directions merged as a traced client reports them, each in its own
 * order: per stream, the client's frames up to its END_STREAM, then the
 * server's. `late`: for that stream the server's frames come before the
 * client's END_STREAM frame ('end') or before all of the client's frames of
 * the stream ('headers').
 */
function merged(cap: H2Capture, late?: { stream: number; what: 'end' | 'headers' }): Event[] {
  const client = units(cap.client, true);
  const server = units(cap.server, false);
  const out: Event[] = [];
  let mono = 1_000_000_000;
  let ci = 0;
  let si = 0;
  const take = (from: Unit[], i: number, fn: 'WRITE/SEND' | 'READ/RECV') => {
    mono += 1_000_000;
    out.push(ssl(fn, from[i].bytes, { conn: 'h2', mono }));
  };
  const clientUntil = (stop: (u: Unit) => boolean, inclusive: boolean) => {
    while (ci < client.length) {
      const u = client[ci];
      if (stop(u) && !inclusive) return;
      take(client, ci++, 'WRITE/SEND');
      if (stop(u)) return;
    }
  };
  const serverThrough = (stream: number) => {
    while (si < server.length) {
      const u = server[si];
      take(server, si++, 'READ/RECV');
      if (u.stream === stream && u.ends) return;
    }
  };
  const streams = [...new Set(client.filter((u) => u.stream !== 0 && u.type === 1).map((u) => u.stream))];
  for (const id of streams) {
    const isLate = late?.stream === id;
    if (isLate) {
      clientUntil((u) => u.stream === id && (late.what === 'headers' || u.ends), false);
      serverThrough(id);
    }
    clientUntil((u) => u.stream === id && u.ends, true);
    if (!isLate) serverThrough(id);
  }
  while (ci < client.length) take(client, ci++, 'WRITE/SEND');
  while (si < server.length) take(server, si++, 'READ/RECV');
  return out;
}

const H2_EXCHANGES: H2Exchange[] = [
  {
    method: 'POST',
    path: '/v1/messages',
    headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-api03-secret' },
    body: Buffer.from(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 200, messages: [{ role: 'user', content: 'Say hello' }] })),
    status: 200,
    responseHeaders: { 'content-type': 'application/json' },
    responseBody: [Buffer.from('{"id":"msg_1","content":[{"type":"text","text":"Hello"}]}')],
  },
  {
    method: 'GET',
    path: '/v1/models',
    headers: {},
    body: Buffer.alloc(0),
    status: 200,
    responseHeaders: { 'content-type': 'application/json' },
    responseBody: [Buffer.from('{"data":[]}')],
  },
  {
    method: 'POST',
    path: '/v1/messages',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('{"stream":true}'),
    status: 200,
    responseHeaders: { 'content-type': 'text/event-stream' },
    responseBody: [Buffer.from('event: message_start\ndata: {}\n\n'), Buffer.from('event: message_stop\ndata: {}\n\n')],
  },
];

/** What must not change with the order: each exchange's request and response, and the order of their events. */
function exchanges(evs: Event[]) {
  const msgs = evs.filter((e) => e.source === 'http' && (e.data.type === 'request' || e.data.type === 'response'));
  return {
    order: msgs.map((e) => `${e.data.type} ${e.data.stream_id}`),
    requests: http(evs, 'request').map((r) => [r.stream_id, r.method, r.path, r.body, r.incomplete]),
    responses: http(evs, 'response').map((r) => [r.stream_id, r.status_code, r.request?.path, r.body, r.incomplete]),
  };
}

describe('HTTP/2: server frames reported before the client frames they answer', () => {
  let cap: H2Capture;
  let inOrder: ReturnType<typeof exchanges>;
  beforeAll(async () => {
    cap = await captureH2(H2_EXCHANGES);
    const p = new HttpParser();
    inOrder = exchanges(await run(p, merged(cap)));
    expect(p.stats()).toMatchObject({ requests: 3, responses: 3, bytes_discarded: 0, unpaired_responses: 0, responses_reordered: 0 });
  });

  it('the exchanges read in order, as sent', () => {
    expect(inOrder.order).toEqual(['request 1', 'response 1', 'request 3', 'response 3', 'request 5', 'response 5']);
    expect(inOrder.requests.map((r) => r[3])).toEqual(H2_EXCHANGES.map((x) => x.body.toString()));
    expect(inOrder.responses.map((r) => r[3])).toEqual(H2_EXCHANGES.map((x) => Buffer.concat(x.responseBody).toString()));
  });

  for (const stream of [1, 3, 5]) {
    for (const what of ['end', 'headers'] as const) {
      it(`stream ${stream}: the response before the request's ${what === 'end' ? 'END_STREAM' : 'HEADERS'}: the same exchanges, none discarded`, async () => {
        const p = new HttpParser();
        const evs = merged(cap, { stream, what });
        expect(evs.map((e) => e.data.function)).not.toEqual(merged(cap).map((e) => e.data.function));
        expect(exchanges(await run(p, evs))).toEqual(inOrder);
        expect(p.stats()).toMatchObject({ bytes_discarded: 0, unpaired_responses: 0, incomplete_messages: 0, responses_reordered: 1 });
      });
    }
  }

  for (const lost of [3, 5]) {
    it(`server frames of a stream whose client frames are lost (stream ${lost}) go on ${lost === 5 ? '250 ms (event time) later' : 'when the client opens a later stream'}, unpaired, not lost`, async () => {
      const all = merged(cap);
      const frames = all.filter((e) => {
        if (e.data.function !== 'WRITE/SEND') return true;
        const b = Buffer.from(e.data.data_encoding === 'base64' ? e.data.data : Buffer.from(e.data.data, 'latin1').toString('base64'), 'base64');
        return b.length < 9 || b.equals(PREFACE) || (b.readUInt32BE(5) & 0x7fffffff) !== lost;
      });
      // a PING from the client 300 ms later
      const later = ssl('WRITE/SEND', Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]), { conn: 'h2', mono: frames.at(-1)!.mono_ns! + 300e6 });
      const last = ssl('WRITE/SEND', later.data.data_encoding === 'base64' ? Buffer.from(later.data.data, 'base64') : later.data.data, {
        conn: 'h2',
        mono: later.mono_ns! + 1e6,
      });
      const p = new HttpParser();
      const evs = await run(p, [...frames, later, last]);
      const got = exchanges(evs);
      // it went on at the first event 250 ms after it was held, not at the end of input
      const at = evs.findIndex((e) => e.source === 'http' && e.data.type === 'response' && e.data.stream_id === lost);
      expect(at).toBeLessThan(evs.findLastIndex((e) => e.source === 'ssl'));
      expect(got.requests.map((r) => r[0])).toEqual([1, 3, 5].filter((id) => id !== lost));
      expect(got.responses.map((r) => [r[0], r[2], r[3]])).toEqual(inOrder.responses.map((r) => [r[0], r[0] === lost ? undefined : r[2], r[3]]));
      // without the later traffic, the end of input gives it
      expect(exchanges(await run(new HttpParser(), frames))).toEqual(got);
      expect(p.stats()).toMatchObject({ bytes_discarded: 0, unpaired_responses: 1 });
    });
  }

  it('a response that ends while its request is still being sent (an early answer) is given when the request ends or the connection does', async () => {
    const evs = merged(cap, { stream: 1, what: 'end' });
    // the client never sends the END_STREAM of stream 1: its connection ends instead
    const i = evs.findIndex((e, k) => e.data.function === 'WRITE/SEND' && k > 0 && evs[k - 1].data.function === 'READ/RECV');
    const p = new HttpParser();
    const got = exchanges(await run(p, evs.slice(0, i)));
    expect(got.order).toEqual(['request 1', 'response 1']);
    expect(got.requests[0]).toEqual([1, 'POST', '/v1/messages', '', true]);
    expect(got.responses[0]).toEqual([1, 200, '/v1/messages', inOrder.responses[0][3], false]);
    expect(p.stats()).toMatchObject({ bytes_discarded: 0, unpaired_responses: 0, responses_reordered: 0 });
  });
});
