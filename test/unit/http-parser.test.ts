import { describe, expect, it } from 'vitest';
import { createHash } from 'crypto';
import * as zlib from 'zlib';
import { HttpParser } from '../../lib/analyzers/http-parser';
import type { Event } from '../../lib/core/event';
import { UsageError } from '../../lib/core/errors';
import { chunked, connId, exec, exit, fileOpen, http, run, ssl } from '../support/events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const W = require('../fixtures/wire-samples.js');

/** zstd frame of ZSTD_JSON, made with the zstd 1.5 command line tool. */
const ZSTD_JSON = '{"id":"msg_zstd","content":[{"type":"text","text":"zstd says hello hello hello hello"}]}';
const ZSTD_FRAME = Buffer.from('KLUv/QRYNQIAAsQOF5Cn6UCkAsOQqOB/3Za1tvovrzln/+cYjWinczBAUhlJTHN95Raw30hQnQ13ERal47JprgKQg28jmAUCAFP8moZSBlEstwU=', 'base64');

function response(headers: string[], body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(['HTTP/1.1 200 OK', ...headers].join('\r\n') + '\r\n\r\n'), b]);
}

const GET = 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';

describe('HttpParser framing', () => {
  it('parses a request split byte by byte and pairs it with its response (latency from mono_ns)', async () => {
    const rq = W.anthropicRequest({ stream: false });
    const rs = W.anthropicJsonResponse();
    const events: Event[] = [];
    let mono = 1_000_000_000;
    for (const b of rq) events.push(ssl('WRITE/SEND', Buffer.from([b]), { mono: (mono += 1000) }));
    events.push(ssl('READ/RECV', rs.subarray(0, 100), { mono: (mono += 250_000_000) }));
    events.push(ssl('READ/RECV', rs.subarray(100), { mono: (mono += 50_000_000) }));
    const out = await run(new HttpParser(), events);
    const [req] = http(out, 'request');
    const [res] = http(out, 'response');
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/messages');
    expect(req.host).toBe('api.anthropic.com');
    expect(req.url).toBe('https://api.anthropic.com/v1/messages');
    expect(req.role).toBe('client');
    expect(JSON.parse(req.body).model).toBe('claude-sonnet-4-5-20250929');
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.ssl.events).toBe(rq.length);
    expect(res.status_code).toBe(200);
    expect(res.request.path).toBe('/v1/messages');
    expect(res.seq).toBe(req.seq);
    expect(res.ttfb_ms).toBe(250);
    expect(res.latency_ms).toBe(300);
    expect(JSON.parse(res.body).content[0].text).toBe('Paris.');
    expect(res.body_encoding).toBe('utf8');
    // ssl events still flow, in order, before what they produced
    expect(out.filter((e) => e.source === 'ssl')).toHaveLength(events.length);
    expect(out.indexOf(events[events.length - 1])).toBeLessThan(out.findIndex((e) => e.data.type === 'response'));
  });

  it('handles pipelining: two requests in one write, two responses in one read, paired in order', async () => {
    const r1 = GET;
    const r2 = 'GET /v1/models/gpt-4o HTTP/1.1\r\nHost: api.openai.com\r\n\r\n';
    const s1 = response(['Content-Type: application/json', 'Content-Length: 2'], '[]');
    const s2 = response(['Content-Type: application/json', 'Transfer-Encoding: chunked'], chunked(['{"id":', '"gpt-4o"}']));
    const out = await run(new HttpParser(), [ssl('WRITE/SEND', r1 + r2), ssl('READ/RECV', Buffer.concat([s1, s2]))]);
    const reqs = http(out, 'request');
    const ress = http(out, 'response');
    expect(reqs.map((r) => [r.seq, r.path])).toEqual([
      [0, '/v1/models'],
      [1, '/v1/models/gpt-4o'],
    ]);
    expect(ress.map((r) => [r.seq, r.request.path, r.body])).toEqual([
      [0, '/v1/models', '[]'],
      [1, '/v1/models/gpt-4o', '{"id":"gpt-4o"}'],
    ]);
  });

  it('keeps a connection alive across exchanges and numbers them', async () => {
    const ev: Event[] = [];
    for (let i = 0; i < 3; i++) {
      ev.push(ssl('WRITE/SEND', GET));
      ev.push(ssl('READ/RECV', response(['Content-Length: 1'], String(i))));
    }
    const out = await run(new HttpParser(), ev);
    expect(http(out, 'response').map((r) => [r.seq, r.body])).toEqual([
      [0, '0'],
      [1, '1'],
      [2, '2'],
    ]);
  });

  it('understands a server process: requests arrive on READ, responses leave on WRITE', async () => {
    const out = await run(new HttpParser(), [
      ssl('READ/RECV', 'POST /v1/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello', { comm: 'node' }),
      ssl('WRITE/SEND', response(['Content-Length: 5'], 'HELLO'), { comm: 'node' }),
    ]);
    const [req] = http(out, 'request');
    const [res] = http(out, 'response');
    expect(req.role).toBe('server');
    expect(res.role).toBe('server');
    expect(res.request.path).toBe('/v1/echo');
    expect(res.body).toBe('HELLO');
  });

  it('lower-cases header names, joins repeats, keeps each set-cookie', async () => {
    const out = await run(new HttpParser(), [ssl('WRITE/SEND', GET), ssl('READ/RECV', W.openaiChatStreamResponse())]);
    const [res] = http(out, 'response');
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['x-request-id']).toBe('req_5b2e0c8b0f6d4e0fa3d2c1b0a9f8e7d6');
    expect(res.headers['set-cookie'].split('\n')).toHaveLength(2);
    expect(Object.keys(res.headers).every((k: string) => k === k.toLowerCase())).toBe(true);
    const out2 = await run(new HttpParser(), [ssl('WRITE/SEND', GET), ssl('READ/RECV', W.geminiStreamResponse())]);
    expect(http(out2, 'response')[0].headers.vary).toBe('Origin, X-Origin, Referer');
  });

  it('keeps odd header names as plain data (no prototype pollution)', async () => {
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', 'GET / HTTP/1.1\r\nHost: h\r\n__proto__: polluted\r\nconstructor: c1\r\nConstructor: c2\r\n\r\n'),
    ]);
    const [req] = http(out, 'request');
    expect(Object.getPrototypeOf(req.headers)).toBe(Object.prototype);
    expect(Object.keys(req.headers)).toEqual(['host', '__proto__', 'constructor']);
    expect(req.headers.constructor).toBe('c1, c2');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(req.headers)).__proto__).toBe('polluted');
  });

  it('gives HEAD, 204 and 304 responses no body and skips 100 Continue', async () => {
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', 'HEAD /file HTTP/1.1\r\nHost: h\r\n\r\n'),
      ssl('READ/RECV', 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n'),
      ssl('WRITE/SEND', 'POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n'),
      ssl('READ/RECV', 'HTTP/1.1 100 Continue\r\n\r\n'),
      ssl('WRITE/SEND', 'abc'),
      ssl('READ/RECV', 'HTTP/1.1 204 No Content\r\n\r\n'),
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'),
    ]);
    const ress = http(out, 'response');
    expect(ress.map((r) => [r.status_code, r.body_size, r.request.method])).toEqual([
      [200, 0, 'HEAD'],
      [204, 0, 'POST'],
      [304, 0, 'GET'],
    ]);
    expect(http(out, 'request')[1].body).toBe('abc');
    expect(http(out, 'parse_error')).toHaveLength(0);
  });

  it('reads a response without length until the connection closes (process exit)', async () => {
    const end = exit({ pid: 4242 });
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, '),
      ssl('READ/RECV', 'part two'),
      end,
    ]);
    const [res] = http(out, 'response');
    expect(res.body).toBe('part one, part two');
    expect(res.incomplete).toBe(false);
    expect(out.indexOf(end)).toBeLessThan(out.findIndex((e) => e.data.type === 'response'));
  });
});

describe('HttpParser bodies', () => {
  const text = JSON.stringify({ choices: [{ message: { content: 'compressed ' + 'x'.repeat(500) } }] });
  const cases: Array<[string, Buffer]> = [
    ['gzip', zlib.gzipSync(text)],
    ['deflate', zlib.deflateSync(text)],
    ['br', zlib.brotliCompressSync(text)],
  ];
  for (const [coding, body] of cases) {
    it(`decodes Content-Encoding: ${coding} (length and chunked framing)`, async () => {
      const a = response([`Content-Encoding: ${coding}`, 'Content-Type: application/json', `Content-Length: ${body.length}`], body);
      const b = response(
        [`Content-Encoding: ${coding}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked'],
        chunked([body.subarray(0, 7), body.subarray(7)]),
      );
      const out = await run(new HttpParser(), [ssl('WRITE/SEND', GET), ssl('READ/RECV', a), ssl('WRITE/SEND', GET), ssl('READ/RECV', b)]);
      for (const res of http(out, 'response')) {
        expect(res.body).toBe(text);
        expect(res.content_encoding).toBe(coding);
        expect(res.body_wire_size).toBe(body.length);
        expect(res.body_size).toBe(text.length);
        expect(res.decode_error).toBeUndefined();
      }
    });
  }

  it('decodes raw deflate (no zlib header), as some servers send', async () => {
    const body = zlib.deflateRawSync(text);
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response(['Content-Encoding: deflate', `Content-Length: ${body.length}`], body)),
    ]);
    expect(http(out, 'response')[0].body).toBe(text);
  });

  it('decodes zstd with fzstd', async () => {
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response(['Content-Encoding: zstd', `Content-Length: ${ZSTD_FRAME.length}`], ZSTD_FRAME)),
    ]);
    const [res] = http(out, 'response');
    expect(res.body).toBe(ZSTD_JSON);
    expect(res.content_encoding).toBe('zstd');
  });

  it('keeps a body that fails to decode as wire bytes and says why', async () => {
    const junk = Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 0xff, 0xfe, 0x00, 0x99]);
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response(['Content-Encoding: gzip', `Content-Length: ${junk.length}`], junk)),
    ]);
    const [res] = http(out, 'response');
    expect(res.decode_error).toMatch(/./);
    expect(res.body_encoding).toBe('base64');
    expect(Buffer.from(res.body, 'base64').equals(junk)).toBe(true);
  });

  it('encodes binary bodies as base64 and text as text', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x10]);
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response(['Content-Type: image/png', `Content-Length: ${png.length}`], png)),
    ]);
    const [res] = http(out, 'response');
    expect(res.body_encoding).toBe('base64');
    expect(Buffer.from(res.body, 'base64').equals(png)).toBe(true);
  });

  it('truncates bodies over maxBodyBytes, counts it, and keeps framing', async () => {
    const parser = new HttpParser({ maxBodyBytes: 1000 });
    const big = 'y'.repeat(5000);
    const out = await run(parser, [
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response([`Content-Length: ${big.length}`], big.slice(0, 2500))),
      ssl('READ/RECV', big.slice(2500)),
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response(['Content-Length: 2'], 'ok')),
    ]);
    const [a, b] = http(out, 'response');
    expect(a.body).toBe('y'.repeat(1000));
    expect(a.body_truncated).toBe(true);
    expect(a.body_dropped_bytes).toBe(4000);
    expect(a.body_wire_size).toBe(5000);
    expect(b.body).toBe('ok');
    const stats = out.find((e) => e.source === 'stats')!.data;
    expect(stats.bodies_truncated).toBe(1);
    expect(stats.body_bytes_dropped).toBe(4000);
    expect(stats.peak_buffered_bytes).toBeLessThanOrEqual(1000 + 64 * 1024);
  });

  it('bounds a decompression bomb to maxBodyBytes and says so', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const parser = new HttpParser({ maxBodyBytes: 1024 * 1024 });
    const out = await run(parser, [ssl('WRITE/SEND', GET), ssl('READ/RECV', response(['Content-Encoding: gzip', `Content-Length: ${bomb.length}`], bomb))]);
    const [res] = http(out, 'response');
    // as much as fits (decoding stops on a compressed-block boundary just under the limit)
    expect(res.body_size).toBeLessThanOrEqual(1024 * 1024);
    expect(res.body_size).toBeGreaterThan(0.9 * 1024 * 1024);
    expect(res.body_truncated).toBe(true);
    expect(res.body_wire_size).toBe(bomb.length);
  });

  it('includes raw bytes only with rawData', async () => {
    const ev = [ssl('WRITE/SEND', GET), ssl('READ/RECV', response(['Content-Length: 2'], 'hi'))];
    const without = await run(new HttpParser(), ev);
    expect(http(without, 'request')[0].raw).toBeUndefined();
    const withRaw = await run(new HttpParser({ rawData: true }), ev);
    expect(http(withRaw, 'request')[0].raw).toBe(GET);
    expect(http(withRaw, 'response')[0].raw).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
  });
});

describe('HttpParser streaming responses', () => {
  it('emits response_headers, then body_chunk per read (first event in the headers read), then response', async () => {
    const rs: Buffer = W.anthropicStreamResponse();
    const headEnd = rs.indexOf('\r\n\r\n') + 4;
    const cut1 = headEnd + 60; // headers plus the start of the first chunk in one read
    const cut2 = cut1 + 333;
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', W.anthropicRequest()),
      ssl('READ/RECV', rs.subarray(0, cut1)),
      ssl('READ/RECV', rs.subarray(cut1, cut2)),
      ssl('READ/RECV', rs.subarray(cut2)),
    ]);
    const types = http(out).map((d) => d.type);
    expect(types).toEqual(['request', 'response_headers', 'body_chunk', 'body_chunk', 'body_chunk', 'response']);
    const chunks = http(out, 'body_chunk');
    const [res] = http(out, 'response');
    expect(chunks.map((c) => c.data).join('')).toBe(res.body);
    expect(chunks.map((c) => c.offset)).toEqual([0, chunks[0].size, chunks[0].size + chunks[1].size]);
    expect(res.body.startsWith('event: message_start\ndata: {"type":"message_start"')).toBe(true);
    expect(res.streamed).toBe(true);
    expect(res.body_chunks).toBe(3);
    const [hdr] = http(out, 'response_headers');
    expect(hdr.request.path).toBe('/v1/messages');
    expect(hdr.status_code).toBe(200);
  });

  it('keeps delivering a long stream in chunks past maxBodyBytes (only the final body is cut)', async () => {
    const events = Array.from({ length: 300 }, (_, i) => `data: {"n":${i},"pad":"${'z'.repeat(100)}"}\n\n`);
    const wire = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked(events)]);
    const ev: Event[] = [ssl('WRITE/SEND', GET)];
    for (let i = 0; i < wire.length; i += 1000) ev.push(ssl('READ/RECV', wire.subarray(i, i + 1000)));
    const out = await run(new HttpParser({ maxBodyBytes: 4096 }), ev);
    expect(
      http(out, 'body_chunk')
        .map((c) => c.data)
        .join(''),
    ).toBe(events.join(''));
    const [res] = http(out, 'response');
    expect(res.body_size).toBe(4096);
    expect(res.body_truncated).toBe(true);
  });

  it('stops decoding a compressed stream incrementally past maxBodyBytes, and says so', async () => {
    const body = Array.from({ length: 400 }, (_, i) => `data: {"n":${i},"h":"${createHash('sha256').update(String(i)).digest('hex')}"}\n\n`).join('');
    const gz = zlib.gzipSync(body);
    expect(gz.length).toBeGreaterThan(8192);
    const wire = Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'),
      chunked([gz]),
    ]);
    const ev: Event[] = [ssl('WRITE/SEND', GET)];
    for (let i = 0; i < wire.length; i += 512) ev.push(ssl('READ/RECV', wire.subarray(i, i + 512)));
    const parser = new HttpParser({ maxBodyBytes: 8192 });
    let peak = 0;
    for (const e of ev) {
      parser.handle(e);
      peak = Math.max(peak, parser.bufferedBytes());
    }
    parser.finish();
    expect(peak).toBeLessThanOrEqual(2 * 8192 + 1024);
    const res = await run(new HttpParser({ maxBodyBytes: 8192 }), ev);
    const [r] = http(res, 'response');
    expect(r.decode_error).toMatch(/body_chunk events: compressed stream longer than 8192 bytes/);
    const streamed = http(res, 'body_chunk')
      .map((c) => c.data)
      .join('');
    expect(body.startsWith(streamed)).toBe(true);
    expect(streamed.length).toBeGreaterThan(0);
  });

  it('never splits a UTF-8 character across body_chunk events', async () => {
    const body = 'data: {"text":"héllo wörld — ✓ 日本語"}\n\n';
    const wire = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked([body])]);
    const events: Event[] = [ssl('WRITE/SEND', GET)];
    for (const b of wire) events.push(ssl('READ/RECV', Buffer.from([b])));
    const out = await run(new HttpParser(), events);
    const chunks = http(out, 'body_chunk');
    expect(chunks.every((c) => c.data_encoding === 'utf8')).toBe(true);
    expect(chunks.map((c) => c.data).join('')).toBe(body);
  });

  it('streams a gzip-compressed event stream incrementally and completely', async () => {
    const body = Array.from({ length: 200 }, (_, i) => `data: {"n":${i},"pad":"${createHash('sha256').update(String(i)).digest('hex')}"}\n\n`).join('');
    const gz = zlib.gzipSync(body);
    const wire = Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'),
      chunked([gz]),
    ]);
    const events: Event[] = [ssl('WRITE/SEND', GET)];
    for (let i = 0; i < wire.length; i += 50) events.push(ssl('READ/RECV', wire.subarray(i, i + 50)));
    const out = await run(new HttpParser(), events);
    const chunks = http(out, 'body_chunk');
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((c) => c.data).join('')).toBe(body);
    expect(http(out, 'response')[0].body).toBe(body);
  });
});

describe('HttpParser errors and resynchronisation', () => {
  it('reports garbage with an excerpt and resynchronises on the next request', async () => {
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', '\x00\x01garbage bytes here\r\n' + GET),
      ssl('READ/RECV', response(['Content-Length: 2'], '{}')),
    ]);
    const [err] = http(out, 'parse_error');
    expect(err.kind).toBe('invalid_start_line');
    expect(err.function).toBe('WRITE/SEND');
    expect(err.offset).toBe(0);
    expect(err.excerpt_hex.startsWith('0001676172626167')).toBe(true);
    expect(err.excerpt_text.startsWith('..garbage')).toBe(true);
    expect(http(out, 'request')[0].path).toBe('/v1/models');
    expect(http(out, 'response')[0].request.path).toBe('/v1/models');
    const stats = out.find((e) => e.source === 'stats')!.data;
    expect(stats.bytes_discarded).toBe(22);
  });

  it('rejects an invalid header line and an invalid Content-Length', async () => {
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', 'GET / HTTP/1.1\r\nHost h\r\n\r\n'),
      ssl('WRITE/SEND', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12abc\r\n\r\n'),
      ssl('WRITE/SEND', GET),
    ]);
    expect(http(out, 'parse_error').map((e) => e.kind)).toEqual(['invalid_header', 'invalid_content_length']);
    expect(http(out, 'request').map((r) => r.path)).toEqual(['/', '/v1/models']);
    expect(http(out, 'request')[0].incomplete).toBe(true);
  });

  it('keeps Content-Length framing across a hole of known size and marks the message incomplete', async () => {
    const body = 'a'.repeat(100) + 'b'.repeat(100) + 'c'.repeat(100);
    const wire = response(['Content-Length: 300'], body);
    const headLen = wire.length - 300;
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', wire.subarray(0, headLen + 100)),
      // this call returned 100 bytes but only 10 were captured
      ssl('READ/RECV', wire.subarray(headLen + 100, headLen + 110), { truncated: true, bytes_lost: 90 }),
      ssl('READ/RECV', wire.subarray(headLen + 200)),
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response(['Content-Length: 4'], 'next')),
    ]);
    const [a, b] = http(out, 'response');
    expect(a.incomplete).toBe(true);
    expect(a.body_truncated).toBe(true);
    // the body stops at the hole: nothing after it is stitched on
    expect(a.body).toBe('a'.repeat(100) + 'b'.repeat(10));
    expect(b.body).toBe('next');
    expect(b.incomplete).toBe(false);
  });

  it('resynchronises after a hole of unknown size in a header block', async () => {
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', 'POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nx-a', { truncated: true }),
      ssl('WRITE/SEND', 'rest of a lost request body}'),
      ssl('WRITE/SEND', GET),
      ssl('READ/RECV', response(['Content-Length: 2'], '{}')),
    ]);
    expect(http(out, 'parse_error').map((e) => e.kind)).toContain('gap');
    expect(http(out, 'request').map((r) => r.path)).toEqual(['/v1/models']);
    const stats = out.find((e) => e.source === 'stats')!.data;
    expect(stats.gaps_unknown_size).toBe(1);
  });

  it('an HTTP/2 connection with a broken header block: one frame error, and the connection is never read as HTTP/1', async () => {
    const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
    // HEADERS on stream 1, END_HEADERS, whose block is an indexed field with index 0 (invalid)
    const headers = Buffer.from([0, 0, 1, 1, 4, 0, 0, 0, 1, 0x80]);
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', preface),
      ssl('WRITE/SEND', headers),
      ssl('WRITE/SEND', Buffer.alloc(200, 7)),
      ssl('READ/RECV', 'HTTP/1.1 200 OK\r\n\r\n'),
    ]);
    const errs = http(out, 'parse_error');
    expect(errs.map((e) => [e.kind, e.function])).toEqual([['invalid_frame', 'WRITE/SEND']]);
    expect(errs[0].message).toMatch(/HTTP\/2: header block of stream 1: index 0/);
    expect(http(out, 'response')).toHaveLength(0);
  });

  it('stops parsing after a 101 Switching Protocols upgrade', async () => {
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', 'GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      ssl('READ/RECV', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello'),
      ssl('WRITE/SEND', Buffer.from([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9])),
    ]);
    expect(http(out, 'response')[0].status_code).toBe(101);
    expect(http(out, 'parse_error')).toHaveLength(0);
  });

  it('marks a message cut by the end of input as incomplete', async () => {
    const out = await run(new HttpParser(), [ssl('WRITE/SEND', GET), ssl('READ/RECV', response(['Content-Length: 100'], 'only this'))]);
    const [res] = http(out, 'response');
    expect(res.incomplete).toBe(true);
    expect(res.incomplete_reason).toBe('stream ended mid-message');
    expect(res.body).toBe('only this');
    expect(res.body_truncated).toBe(true);
  });
});

describe('HttpParser connections and pass-through', () => {
  it('passes non-ssl events untouched and in order; handshakes pass; passThroughSsl=false drops ssl', async () => {
    const p1 = exec({ pid: 1, comm: 'bash', filename: '/bin/ls', argv: ['ls'] });
    const p2 = fileOpen({ pid: 1, comm: 'bash', path: '/etc/hosts' });
    const hs = ssl('HANDSHAKE', '');
    const w = ssl('WRITE/SEND', GET);
    const out = await run(new HttpParser({ emitStats: false }), [p1, hs, w, p2]);
    expect(out.slice(0, 3)).toEqual([p1, hs, w]);
    expect(out[3].data.type).toBe('request');
    expect(out[4]).toBe(p2);
    expect(out[0]).toBe(p1);
    const out2 = await run(new HttpParser({ emitStats: false, passThroughSsl: false }), [p1, hs, w, p2]);
    expect(out2.map((e) => e.source)).toEqual(['process', 'http', 'process']);
  });

  it('evicts idle connections (event time), flushing what they hold, and counts them', async () => {
    const parser = new HttpParser({ idleTimeoutMs: 1000 });
    const out = await run(parser, [
      ssl('WRITE/SEND', GET, { conn: 'a', mono: 1e9 }),
      ssl('READ/RECV', 'HTTP/1.1 200 OK\r\n\r\nstreaming until close', { conn: 'a', mono: 1.1e9 }),
      ssl('WRITE/SEND', GET, { conn: 'b', mono: 5e9 }),
    ]);
    const [res] = http(out, 'response');
    expect(res.body).toBe('streaming until close');
    expect(res.conn_id).toBe(connId('a'));
    // evicted before connection b's request was parsed
    expect(out.findIndex((e) => e.data.type === 'response')).toBeLessThan(out.findIndex((e) => e.data.type === 'request' && e.data.conn_id === connId('b')));
    expect(parser.stats().connections_evicted).toBe(1);
  });

  it('bounds the number of connections', async () => {
    const parser = new HttpParser({ maxConnections: 4, emitStats: false });
    const ev = Array.from({ length: 10 }, (_, i) => ssl('WRITE/SEND', 'GET / HTTP/1.1\r\nHost: h', { conn: `c${i}` }));
    await run(parser, ev.slice());
    expect(parser.stats().connections_evicted).toBe(6);
  });

  it('rejects nonsense options with a UsageError', () => {
    expect(() => new HttpParser({ maxBodyBytes: -1 })).toThrow(UsageError);
    expect(() => new HttpParser({ idleTimeoutMs: Number.NaN })).toThrow(/idleTimeoutMs/);
  });

  it('uses the connection key: two connections interleaved stay apart', async () => {
    const a = W.anthropicRequest({ stream: false });
    const b = W.openaiChatRequest();
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', a.subarray(0, 50), { conn: 'x' }),
      ssl('WRITE/SEND', b.subarray(0, 70), { conn: 'y' }),
      ssl('WRITE/SEND', a.subarray(50), { conn: 'x' }),
      ssl('WRITE/SEND', b.subarray(70), { conn: 'y' }),
    ]);
    expect(http(out, 'request').map((r) => [r.conn_id, r.host])).toEqual([
      [connId('x'), 'api.anthropic.com'],
      [connId('y'), 'api.openai.com'],
    ]);
    expect(http(out, 'parse_error')).toHaveLength(0);
  });
});
