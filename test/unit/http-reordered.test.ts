/**
 * A client whose reading and writing threads report their TLS calls when they
 * return (Go's net/http) can have the read of a response reported before the
 * write of its request: the parser holds such a read until the request is
 * written, so the exchange pairs as it happened.
 */
import { describe, expect, it } from 'vitest';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { http, run, ssl } from '../support/events';

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
