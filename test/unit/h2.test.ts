import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { huffmanDecode, huffmanEncode } from '../../lib/http/h2/huffman';
import { HpackDecoder } from '../../lib/http/h2/hpack';
import { FrameReader, PREFACE } from '../../lib/http/h2/frames';
import { H2Session, type Side } from '../../lib/http/h2/session';
import { captureH2, type H2Capture, type H2Exchange } from '../support/h2-capture';

interface Seen {
  headers: { side: Side; stream: number; fields: [string, string][]; end: boolean }[];
  data: Map<string, Buffer[]>;
  errors: string[];
}

function decode(cap: H2Capture, cuts: (buf: Buffer) => Buffer[] = (b) => [b]): Seen {
  const seen: Seen = { headers: [], data: new Map(), errors: [] };
  const s = new H2Session(
    {
      onHeaders: (side, stream, fields, end) => seen.headers.push({ side, stream, fields: fields.map((f) => [f.name, f.value]), end }),
      onData: (side, stream, bytes) => {
        const k = `${side}:${stream}`;
        seen.data.set(k, [...(seen.data.get(k) ?? []), Buffer.from(bytes)]);
      },
      onPush: () => undefined,
      onReset: () => undefined,
      onGoaway: () => undefined,
      onError: (side, message) => seen.errors.push(`${side}: ${message}`),
    },
    { maxHeaderBytes: 64 * 1024 },
  );
  // the client's bytes go first, as a traced client writes before it reads the answer
  for (const piece of cuts(Buffer.concat(cap.client))) s.push('client', piece);
  for (const piece of cuts(Buffer.concat(cap.server))) s.push('server', piece);
  return seen;
}

const split = (cutsAt: number[]) => (buf: Buffer) => {
  const at = [...new Set(cutsAt.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  return [0, ...at].map((c, i, a) => buf.subarray(c, a[i + 1] ?? buf.length));
};

const bodyOf = (seen: Seen, key: string) => Buffer.concat(seen.data.get(key) ?? []);

const EXCHANGES: H2Exchange[] = [
  {
    method: 'POST',
    path: '/v1/messages?beta=true',
    headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-api03-secret', 'anthropic-version': '2023-06-01', cookie: ['a=1', 'b=2'] },
    body: Buffer.from(JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] })),
    status: 200,
    responseHeaders: { 'content-type': 'text/event-stream', 'request-id': 'req_1' },
    responseBody: [Buffer.from('event: message_start\ndata: {}\n\n'), Buffer.from('event: message_stop\ndata: {}\n\n')],
  },
  {
    method: 'GET',
    path: '/v1/models',
    headers: { authorization: 'Bearer sk-proj-abc', 'x-long': 'v'.repeat(20_000) },
    body: Buffer.alloc(0),
    status: 404,
    responseHeaders: { 'content-type': 'application/json' },
    responseBody: [Buffer.from('{"error":"not found"}')],
  },
  {
    method: 'POST',
    path: '/grpc.Service/Call',
    headers: { 'content-type': 'application/grpc', te: 'trailers' },
    body: Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]),
    status: 200,
    responseHeaders: { 'content-type': 'application/grpc' },
    responseBody: [Buffer.from([0, 0, 0, 0, 1, 9])],
    trailers: { 'grpc-status': '0', 'grpc-message': 'OK' },
  },
];

describe('HPACK Huffman code', () => {
  it('round-trips every octet value', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(huffmanDecode(huffmanEncode(all)).equals(all)).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        expect(huffmanDecode(huffmanEncode(a)).equals(Buffer.from(a))).toBe(true);
      }),
    );
  });

  it('decodes RFC 7541 C.4.1 and refuses bad padding', () => {
    expect(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex')).toString()).toBe('www.example.com');
    expect(() => huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4fe', 'hex'))).toThrow(/padding/);
    expect(() => huffmanDecode(Buffer.from('ffffffff', 'hex'))).toThrow(/EOS|padding/);
  });
});

describe('HPACK decoder', () => {
  it('decodes RFC 7541 C.3 (requests without Huffman) with its dynamic table', () => {
    const d = new HpackDecoder();
    const f = (hex: string) => d.decode(Buffer.from(hex.replace(/\s/g, ''), 'hex')).map((x) => [x.name, x.value]);
    expect(f('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(f('8286 84be 5808 6e6f 2d63 6163 6865')).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(f('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
  });

  it('reports where each literal value lies, and never-indexed fields', () => {
    const d = new HpackDecoder();
    // never indexed, literal name "password", literal value "secret"
    const block = Buffer.from('100870617373776f726406736563726574', 'hex');
    const [field] = d.decode(block);
    expect(field).toMatchObject({ name: 'password', value: 'secret', neverIndexed: true });
    expect(block.subarray(field.valueSpan!.data, field.valueSpan!.end).toString()).toBe('secret');
  });

  it('garbage is an error with an offset, never a crash or a hang', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
        const d = new HpackDecoder();
        try {
          d.decode(Buffer.from(a));
        } catch (e) {
          expect((e as Error).name).toBe('Error');
          expect(typeof (e as { offset?: unknown }).offset).toBe('number');
        }
      }),
    );
  });
});

describe('HTTP/2 session against node:http2', () => {
  let cap: H2Capture;
  let padded: H2Capture;
  beforeAll(async () => {
    cap = await captureH2(EXCHANGES);
    padded = await captureH2(EXCHANGES.slice(0, 1), { padding: true });
  });

  it('every request and response, with headers, bodies and trailers, as sent', () => {
    const seen = decode(cap);
    expect(seen.errors).toEqual([]);
    const reqs = seen.headers.filter((h) => h.side === 'client');
    expect(reqs.map((r) => Object.fromEntries(r.fields.filter(([n]) => n.startsWith(':')))[':path'])).toEqual(EXCHANGES.map((x) => x.path));
    const first = Object.fromEntries(reqs[0].fields.filter(([n]) => n !== 'cookie'));
    expect(first).toMatchObject({ ':method': 'POST', 'x-api-key': 'sk-ant-api03-secret', 'content-type': 'application/json' });
    expect(reqs[0].fields.filter(([n]) => n === 'cookie').map(([, v]) => v)).toEqual(['a=1', 'b=2']);
    expect(Object.fromEntries(reqs[1].fields)['x-long']).toBe('v'.repeat(20_000));
    expect(bodyOf(seen, `client:${reqs[0].stream}`).equals(EXCHANGES[0].body)).toBe(true);
    const resps = seen.headers.filter((h) => h.side === 'server');
    expect(resps.map((r) => Object.fromEntries(r.fields)[':status'] ?? Object.fromEntries(r.fields)['grpc-status'])).toEqual(['200', '404', '200', '0']);
    expect(resps.at(-1)).toMatchObject({ end: true, fields: expect.arrayContaining([['grpc-message', 'OK']]) });
    expect(bodyOf(seen, `server:${reqs[0].stream}`).toString()).toBe(Buffer.concat(EXCHANGES[0].responseBody).toString());
    expect(bodyOf(seen, `server:${reqs[2].stream}`).equals(Buffer.concat(EXCHANGES[2].responseBody))).toBe(true);
  });

  it('padded frames decode the same', () => {
    const a = decode(padded);
    expect(a.errors).toEqual([]);
    expect(bodyOf(a, 'server:1').toString()).toBe(Buffer.concat(EXCHANGES[0].responseBody).toString());
    expect(bodyOf(a, 'client:1').equals(EXCHANGES[0].body)).toBe(true);
  });

  it('any split of the byte streams into reads gives the same result', () => {
    const whole = decode(cap);
    const norm = (s: Seen) => ({ headers: s.headers, data: [...s.data].map(([k, v]) => [k, Buffer.concat(v).toString('hex')]), errors: s.errors });
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (cuts) => {
        expect(norm(decode(cap, split(cuts)))).toEqual(norm(whole));
      }),
      { numRuns: 200 },
    );
  });

  it('garbage after the preface or instead of it gives an error, never a crash or a hang; memory stays bounded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.boolean(), (junk, afterPreface) => {
        const errors: string[] = [];
        const s = new H2Session(
          {
            onHeaders: () => undefined,
            onData: () => undefined,
            onPush: () => undefined,
            onReset: () => undefined,
            onGoaway: () => undefined,
            onError: (_side, m) => errors.push(m),
          },
          { maxHeaderBytes: 4096 },
        );
        s.push('client', afterPreface ? Buffer.concat([PREFACE, Buffer.from(junk)]) : Buffer.from(junk));
        s.push('server', Buffer.from(junk));
        expect(s.bufferedBytes).toBeLessThanOrEqual(2 * (16384 + 9));
      }),
    );
  });

  it('a frame header announcing a huge header block is refused at once, without holding it', () => {
    const errors: string[] = [];
    const r = new FrameReader({ onFrame: () => undefined, onData: () => undefined, onError: (m) => errors.push(m), onSkipped: () => undefined }, false, 16384);
    r.push(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x04, 0, 0, 0, 1]));
    r.push(Buffer.alloc(100_000));
    expect(errors).toEqual([expect.stringMatching(/header block frame of 16777215 bytes is larger than the 16384 held/)]);
    expect(r.bufferedBytes).toBe(0);
  });
});
