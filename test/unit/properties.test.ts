import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as zlib from 'zlib';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import type { Event } from '../../lib/core/event';
import { SseParser } from '../../lib/sse/parser';
import { chunked, run, splitAt, ssl } from '../support/events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const W = require('../fixtures/wire-samples.js');

const GZ_JSON = JSON.stringify({ object: 'list', data: Array.from({ length: 30 }, (_, i) => ({ id: `model-${i}`, object: 'model', owned_by: 'system' })) });
const GZ = zlib.gzipSync(GZ_JSON);

/** Requests and responses of a keep-alive conversation: SSE (Anthropic, OpenAI, Gemini), chunked gzip JSON, Content-Length JSON. */
const REQUESTS: Buffer = Buffer.concat([
  W.anthropicRequest(),
  Buffer.from('GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nAccept-Encoding: gzip\r\n\r\n'),
  W.openaiChatRequest({ tools: true }),
  W.geminiRequest(),
  W.anthropicRequest({ stream: false }),
]);
const RESPONSES: Buffer = Buffer.concat([
  W.anthropicStreamResponse({ thinking: ['Let me', ' think.'], tool: { name: 'bash', pieces: ['{"comm', 'and": "ls', ' -la"}'] } }),
  Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'),
    chunked([GZ.subarray(0, 40), GZ.subarray(40, 41), GZ.subarray(41)]),
  ]),
  W.openaiChatStreamResponse({ toolCalls: [{ id: 'call_1', name: 'read_file', pieces: ['{"pa', 'th": "/etc/', 'hosts"}'] }] }),
  W.geminiStreamResponse(),
  W.anthropicJsonResponse(),
]);

/** What must not depend on how bytes were split: drop timing, event references and chunking. */
function normalise(out: Event[]): unknown[] {
  const res: unknown[] = [];
  const bodies = new Map<number, string>();
  for (const e of out) {
    if (e.source === 'http') {
      const d = { ...e.data };
      if (d.type === 'body_chunk') {
        bodies.set(d.seq, (bodies.get(d.seq) ?? '') + d.data);
        continue;
      }
      delete d.ssl;
      delete d.latency_ms;
      delete d.ttfb_ms;
      delete d.body_chunks;
      if (d.request) d.request = { ...d.request, end_mono_ns: null, end_timestamp: null };
      res.push(d);
    } else if (e.source === 'sse') {
      const d = { ...e.data };
      delete d.time_to_first_event_ms;
      delete d.duration_ms;
      res.push(d);
    }
  }
  res.push(Object.fromEntries(bodies));
  return res;
}

function eventsFor(reqCuts: number[], resCuts: number[]): Event[] {
  return [...splitAt(REQUESTS, reqCuts).map((b) => ssl('WRITE/SEND', b)), ...splitAt(RESPONSES, resCuts).map((b) => ssl('READ/RECV', b))];
}

async function parse(events: Event[]): Promise<Event[]> {
  return run([new HttpParser({ passThroughSsl: false, emitStats: false }), new SseProcessor({ emitStats: false })], events);
}

describe('split invariance (property)', () => {
  it('any split of a valid conversation parses to the same exchanges, bodies and merged answers', async () => {
    const whole = await parse(eventsFor([], []));
    const expected = normalise(whole);
    // sanity: the unsplit parse is what we think it is
    expect(whole.filter((e) => e.data.type === 'response')).toHaveLength(5);
    expect(whole.filter((e) => e.source === 'sse').map((e) => e.data.provider)).toEqual(['anthropic', 'openai', 'gemini']);
    expect(whole.find((e) => e.data.type === 'response' && e.data.content_encoding === 'gzip')!.data.body).toBe(GZ_JSON);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: REQUESTS.length - 1 }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: RESPONSES.length - 1 }), { maxLength: 80 }),
        async (rc, sc) => {
          const out = await parse(eventsFor(rc, sc));
          expect(normalise(out)).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('byte-by-byte delivery gives the same result too', async () => {
    const expected = normalise(await parse(eventsFor([], [])));
    const every = (n: number) => Array.from({ length: n - 1 }, (_, i) => i + 1);
    expect(normalise(await parse(eventsFor(every(REQUESTS.length), every(RESPONSES.length))))).toEqual(expected);
  });

  it('the SSE parser gives the same events for any split, CR/LF/CRLF line ends included', () => {
    const text = 'event: a\r\ndata: 1\r\ndata: 2\r\n\r\n: comment\n\nid: 7\rdata: x\r\rretry: 300\ndata:no-space\n\ndata: {"k":"é✓"}\r\n\r\n';
    const whole = new SseParser().push(text);
    expect(whole).toEqual([
      { event: 'a', data: '1\n2' },
      { event: 'message', data: 'x', id: '7' },
      { event: 'message', data: 'no-space', id: '7', retry: 300 },
      { event: 'message', data: '{"k":"é✓"}', id: '7' },
    ]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 30 }), (cuts) => {
        const p = new SseParser();
        const got = [];
        let prev = 0;
        for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
          got.push(...p.push(text.slice(prev, c)));
          prev = c;
        }
        got.push(...p.push(text.slice(prev)), ...p.end());
        expect(got).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });
});

describe('robustness (property)', () => {
  const LIMITS = { maxHeaderBytes: 2048, maxBodyBytes: 4096, maxConnections: 3, maxBufferedBytes: 20000, rawData: true, emitStats: false };
  /** Per-stream undecided bytes never exceed max(8 KiB start-line limit, maxHeaderBytes). */
  const PER_STREAM = 8192;
  const BOUND = LIMITS.maxBufferedBytes + LIMITS.maxConnections * 2 * PER_STREAM;

  const valid = fc.constantFrom<Buffer>(REQUESTS, RESPONSES, W.openaiResponsesStreamResponse(), W.healthRequest(), W.healthResponse());
  const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 })).map(([b, muts]) => {
    const c = Buffer.from(b);
    for (const [i, v] of muts) c[i % c.length] = v;
    return c;
  });
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
    mutated,
    valid.map((b) => b.subarray(0, Math.floor(b.length / 3))),
  );
  const call = fc.record({
    fn: fc.constantFrom<'READ/RECV' | 'WRITE/SEND' | 'HANDSHAKE'>('READ/RECV', 'WRITE/SEND', 'READ/RECV', 'WRITE/SEND', 'HANDSHAKE'),
    conn: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    bytes,
    cut: fc.nat(),
    truncated: fc.boolean(),
    lost: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
  });

  it('random and adversarial bytes never throw and never grow buffers beyond the bound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { maxLength: 40 }), async (calls) => {
        const parser = new HttpParser(LIMITS);
        const sse = new SseProcessor({ emitStats: false, maxContentChars: 10000 });
        let peak = 0;
        for (const c of calls) {
          const piece = c.bytes.subarray(0, c.bytes.length ? (c.cut % c.bytes.length) + 1 : 0);
          const e = ssl(c.fn, piece, { conn: c.conn, truncated: c.truncated && c.fn !== 'HANDSHAKE', bytes_lost: c.truncated ? c.lost : undefined });
          for (const o of parser.handle(e)) sse.handle(o);
          peak = Math.max(peak, parser.bufferedBytes());
        }
        for (const o of parser.finish()) sse.handle(o);
        sse.finish();
        expect(peak).toBeLessThanOrEqual(BOUND);
        expect(parser.bufferedBytes()).toBe(0);
        expect(sse.stats().streams_open).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a flood without any newline stays bounded and is counted as discarded', () => {
    const parser = new HttpParser({ emitStats: false });
    let errors = 0;
    for (let i = 0; i < 200; i++) {
      for (const o of parser.handle(ssl('WRITE/SEND', Buffer.alloc(4096, 0x41), { conn: 'flood' }))) if (o.data.type === 'parse_error') errors++;
      expect(parser.bufferedBytes()).toBeLessThanOrEqual(PER_STREAM + 4096);
    }
    expect(errors).toBeGreaterThan(0);
    expect(parser.stats().bytes_discarded).toBeGreaterThan(200 * 4096 - PER_STREAM - 4096);
  });
});
