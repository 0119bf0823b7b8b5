import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as zlib from 'zlib';
import { HttpParser } from '../../lib/analyzers/http-parser';
import type { Event } from '../../lib/core/event';
import { BodyStream, type BodyChunk } from '../../lib/http/parser/body-stream';
import { chunked, http, splitAt, ssl } from '../support/events';

const GZ_JSON = zlib.gzipSync(JSON.stringify({ id: 'x', items: Array.from({ length: 40 }, (_, i) => `item-${i}`) }));

/** One request/response exchange, and what its response event must say. */
interface Exchange {
  request: string;
  response: Buffer;
  method: string;
  path: string;
  status: number;
  /** Decoded response body. */
  body: string;
  /** 1xx responses sent before the final one. */
  interim: number;
}

function ex(method: string, path: string, reqBody: string, response: string | Buffer, status: number, body: string, interim = 0): Exchange {
  const head = [`${method} ${path} HTTP/1.1`, 'Host: api.example.com', ...(reqBody ? [`Content-Length: ${reqBody.length}`] : [])].join('\r\n');
  return {
    request: `${head}\r\n\r\n${reqBody}`,
    response: typeof response === 'string' ? Buffer.from(response) : response,
    method,
    path,
    status,
    body,
    interim,
  };
}

const SSE_BODY = 'event: message\ndata: {"t":"héllo ✓"}\n\ndata: [DONE]\n\n';

/** Exchanges whose response framing does not depend on the request method. */
const ANY_ORDER: Exchange[] = [
  ex('GET', '/a', '', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]', 200, '[]'),
  ex(
    'POST',
    '/b',
    '{"q":1}',
    `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(['{"ok":', 'true}']).toString()}`,
    201,
    '{"ok":true}',
    1,
  ),
  ex('GET', '/c', '', 'HTTP/1.1 204 No Content\r\n\r\n', 204, ''),
  ex('GET', '/d', '', 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', 304, ''),
  ex(
    'POST',
    '/e',
    '{"stream":true}',
    Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'),
      chunked([SSE_BODY.slice(0, 20), SSE_BODY.slice(20)]),
    ]),
    200,
    SSE_BODY,
  ),
  ex(
    'DELETE',
    '/f',
    '',
    Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'),
      chunked([GZ_JSON.subarray(0, 30), GZ_JSON.subarray(30)]),
    ]),
    200,
    zlib.gunzipSync(GZ_JSON).toString(),
  ),
];
/** A HEAD answer carries Content-Length but no body: it frames right only when paired with its request. */
const HEAD = ex('HEAD', '/h', '', 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', 200, '');

/**
 * Deliver the two directions of a conversation as TLS calls: each direction
 * cut at the given points, the pieces merged in the order `picks` says,
 * except that a read is held back until the requests its bytes answer were
 * all written (a server answers only what it received).
 */
function deliver(exchanges: readonly Exchange[], writeCuts: number[], readCuts: number[], picks: boolean[]): Event[] {
  const writes = splitAt(Buffer.from(exchanges.map((e) => e.request).join('')), writeCuts);
  const reads = splitAt(Buffer.concat(exchanges.map((e) => e.response)), readCuts);
  // Bytes of the write stream needed before read byte i may be delivered.
  const needed: number[] = [];
  let reqEnd = 0;
  for (const e of exchanges) {
    reqEnd += Buffer.byteLength(e.request);
    for (let i = 0; i < e.response.length; i++) needed.push(reqEnd);
  }
  const out: Event[] = [];
  let written = 0;
  let readAt = 0;
  let w = 0;
  let r = 0;
  let k = 0;
  while (w < writes.length || r < reads.length) {
    const readOk = r < reads.length && needed[readAt + reads[r].length - 1] <= written;
    const wantRead = picks.length ? picks[k++ % picks.length] : false;
    if (readOk && (wantRead || w === writes.length)) {
      out.push(ssl('READ/RECV', reads[r]));
      readAt += reads[r++].length;
    } else {
      out.push(ssl('WRITE/SEND', writes[w]));
      written += writes[w++].length;
    }
  }
  return out;
}

function parseAll(options: ConstructorParameters<typeof HttpParser>[0], events: readonly Event[]): { out: Event[]; parser: HttpParser } {
  const parser = new HttpParser({ passThroughSsl: false, emitStats: false, ...options });
  const out: Event[] = [];
  for (const e of events) out.push(...parser.handle(e));
  out.push(...parser.finish());
  return { out, parser };
}

/** Response body as delivered: the final event's body, and the body_chunk events joined when streamed. */
function streamedBody(out: readonly Event[], seq: number): string {
  return http(out, 'body_chunk')
    .filter((c) => c.seq === seq)
    .map((c) => c.data)
    .join('');
}

const cuts = (max: number) => fc.array(fc.integer({ min: 1, max: max - 1 }), { maxLength: 30 });

describe('request/response pairing (property)', () => {
  const conversation = fc.array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...ANY_ORDER) }, { weight: 1, arbitrary: fc.constant(HEAD) }), {
    minLength: 1,
    maxLength: 8,
  });

  it('pairs every response with its request however the reads and writes are cut and interleaved', () => {
    fc.assert(
      fc.property(
        conversation.chain((xs) => {
          const wl = Buffer.byteLength(xs.map((e) => e.request).join(''));
          const rl = xs.reduce((n, e) => n + e.response.length, 0);
          return fc.tuple(fc.constant(xs), cuts(wl), cuts(rl), fc.array(fc.boolean(), { maxLength: 20 }));
        }),
        ([xs, wc, rc, picks]) => {
          const { out, parser } = parseAll({ maxPipelined: 8 }, deliver(xs, wc, rc, picks));
          const reqs = http(out, 'request');
          const ress = http(out, 'response');
          expect(reqs.map((q) => [q.seq, q.method, q.path])).toEqual(xs.map((e, i) => [i, e.method, e.path]));
          expect(ress.map((s) => [s.seq, s.request?.seq, s.request?.method, s.request?.path, s.status_code])).toEqual(
            xs.map((e, i) => [i, i, e.method, e.path, e.status]),
          );
          ress.forEach((s, i) => {
            expect(s.incomplete).toBe(false);
            expect(s.body).toBe(xs[i].body);
            if (s.streamed) expect(streamedBody(out, s.seq)).toBe(xs[i].body);
            // A request ends before its answer does: latency is never negative.
            expect(s.latency_ms).toBeGreaterThanOrEqual(0);
          });
          const st = parser.stats();
          expect(st).toMatchObject({
            requests: xs.length,
            responses: xs.length,
            interim_responses: xs.reduce((n, e) => n + e.interim, 0),
            unpaired_responses: 0,
            unanswered_requests_dropped: 0,
            parse_errors: 0,
            incomplete_messages: 0,
            connections: 0,
            buffered_bytes: 0,
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps at most maxPipelined requests waiting: the oldest are forgotten and the extra answers are unpaired', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...ANY_ORDER), { minLength: 1, maxLength: 8 }).chain((xs) => {
          const wl = Buffer.byteLength(xs.map((e) => e.request).join(''));
          const rl = xs.reduce((n, e) => n + e.response.length, 0);
          return fc.tuple(fc.constant(xs), fc.integer({ min: 1, max: 8 }), cuts(wl), cuts(rl));
        }),
        ([xs, depth, wc, rc]) => {
          // Every request is written before the first answer arrives.
          const { out, parser } = parseAll({ maxPipelined: depth }, deliver(xs, wc, rc, []));
          const n = xs.length;
          const kept = Math.min(n, depth);
          const ress = http(out, 'response');
          expect(ress).toHaveLength(n);
          ress.forEach((s, j) => {
            if (j < kept) {
              // Answer j goes to the oldest request still waiting: n - kept + j.
              expect([s.seq, s.request?.seq, s.request?.path]).toEqual([n - kept + j, n - kept + j, xs[n - kept + j].path]);
            } else {
              expect(s.request).toBeNull();
              expect(s.seq).toBe(n + (j - kept));
            }
            expect(s.status_code).toBe(xs[j].status);
          });
          expect(parser.stats()).toMatchObject({
            requests: n,
            responses: n,
            unanswered_requests_dropped: n - kept,
            unpaired_responses: n - kept,
            parse_errors: 0,
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('streamed body chunks (property)', () => {
  const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 });
  const coding = fc.constantFrom<'identity' | 'gzip' | 'deflate' | 'br'>('identity', 'gzip', 'deflate', 'br');
  const encode: Record<string, (b: Buffer) => Buffer> = {
    identity: (b) => b,
    gzip: (b) => zlib.gzipSync(b),
    deflate: (b) => zlib.deflateSync(b),
    br: (b) => zlib.brotliCompressSync(b),
  };

  it('delivers the whole decoded body once, in order, in chunks of whole UTF-8 characters, however the wire bytes are cut', () => {
    fc.assert(
      fc.property(
        text.chain((t) => fc.tuple(fc.constant(t), coding, fc.array(fc.nat(), { maxLength: 25 }), fc.array(fc.boolean(), { maxLength: 25 }))),
        ([t, c, cutSeeds, takes]) => {
          const plain = Buffer.from(t);
          const wire = encode[c](plain);
          const stream = new BodyStream(c === 'identity' ? [] : [c], 1 << 20);
          const chunks: BodyChunk[] = [];
          splitAt(
            wire,
            cutSeeds.map((s) => s % wire.length),
          ).forEach((piece, i) => {
            stream.push(piece);
            if (takes[i % Math.max(1, takes.length)] !== false) {
              const ch = stream.take(false);
              if (ch) {
                // A chunk taken mid-body never ends inside a character.
                expect(Buffer.from(ch.bytes.toString('utf8')).equals(ch.bytes)).toBe(true);
                chunks.push(ch);
              }
            }
          });
          const last = stream.take(true);
          if (last) chunks.push(last);
          expect(stream.take(true)).toBeNull();
          expect(Buffer.concat(chunks.map((ch) => ch.bytes)).toString()).toBe(t);
          let offset = 0;
          chunks.forEach((ch, i) => {
            expect([ch.index, ch.offset]).toEqual([i, offset]);
            expect(ch.bytes.length).toBeGreaterThan(0);
            offset += ch.bytes.length;
          });
          expect(stream.chunks).toBe(chunks.length);
          expect(stream.decodeError).toBeNull();
          // Only the compressed input kept for re-decoding may remain held.
          expect(stream.heldBytes).toBeLessThanOrEqual(c === 'identity' ? 0 : wire.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
