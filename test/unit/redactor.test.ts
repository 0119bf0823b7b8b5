import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as zlib from 'zlib';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { Redactor } from '../../lib/analyzers/redactor';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import type { Event } from '../../lib/core/event';
import { attachPayload, sslPayload } from '../../lib/core/payload';
import { encodeFrame, OPCODE } from '../../lib/http/ws/frame';
import { redactText } from '../../lib/redact/rules';
import { chunked, http, run, splitAt, ssl } from '../support/events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const W = require('../fixtures/wire-samples.js');

const SECRET = 'sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm';
/** Every credential header, with a value that holds a secret. */
const HEADERS: Array<[string, string]> = [
  ['Authorization', `Bearer ${SECRET}`],
  ['Proxy-Authorization', 'Basic dXNlcjpodW50ZXIyLXN1cGVyLXNlY3JldA=='],
  ['x-api-key', W.ANTHROPIC_KEY],
  ['api-key', 'azure0123456789abcdef0123456789ab'],
  ['x-goog-api-key', W.GOOGLE_KEY],
  ['Cookie', 'session=s%3AJhGfDsA0987.qwertyuiop; __cf_bm=abcdefghijklmnop'],
  ['Set-Cookie', '__Secure-next-auth.session-token=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0; Path=/; HttpOnly'],
  ['X-Amz-Security-Token', 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDfake'],
  ['X-Auth-Token', 'auth-token-value-0123456789'],
  ['anthropic-api-key', 'value-of-a-custom-key-header-123'],
];

const secretValue = (v: string) => v.replace(/^(Bearer|Basic) /, '');

function everyString(e: Event): string {
  return JSON.stringify(e) + (e.source === 'ssl' ? sslPayload(e).toString('latin1') : '');
}

describe('Redactor on raw ssl data', () => {
  for (const [name, value] of HEADERS) {
    it(`masks the ${name} header in plaintext, length-preserving`, () => {
      const text = `POST /v1/x HTTP/1.1\r\nHost: api.example.com\r\n${name}: ${value}\r\nContent-Length: 2\r\n\r\n{}`;
      const e = ssl('WRITE/SEND', text);
      const out = new Redactor().redact(e);
      const bytes = sslPayload(out);
      expect(bytes.length).toBe(Buffer.byteLength(text));
      const masked = bytes.toString('latin1');
      expect(masked).not.toContain(secretValue(value));
      expect(masked).toContain(`${name}: [REDACTED]`);
      expect(masked).toContain('Host: api.example.com\r\n');
      expect(masked.endsWith('Content-Length: 2\r\n\r\n{}')).toBe(true);
      // the NDJSON view (data.data) is masked too
      expect(out.data.data).toBe(masked);
    });
  }

  it('masks every credential header in parsed request events (Redactor after the parser)', async () => {
    const text = `POST /v1/x HTTP/1.1\r\nHost: api.example.com\r\n${HEADERS.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\nContent-Length: 2\r\n\r\n{}`;
    const out = await run([new HttpParser({ emitStats: false, passThroughSsl: false }), new Redactor()], [ssl('WRITE/SEND', text)]);
    const [req] = http(out, 'request');
    for (const [name, value] of HEADERS) {
      expect(req.headers[name.toLowerCase()], name).toBe('[REDACTED]');
      expect(JSON.stringify(req)).not.toContain(secretValue(value));
    }
    expect(req.headers.host).toBe('api.example.com');
  });

  it('masks URL parameters, JSON secrets and bare key shapes anywhere', () => {
    const text =
      `GET /v1beta/models?key=${W.GOOGLE_KEY}&alt=sse HTTP/1.1\r\nHost: g\r\n\r\n` +
      `{"api_key": "plain-secret-value", "password":"hunter2-long", "model": "x"}\n` +
      `grant_type=refresh_token&refresh_token=rt_0123456789&client_secret=cs_abcdef\n` +
      `echo ${W.ANTHROPIC_KEY} and ${SECRET} and ghp_0123456789abcdefghijABCDEFGHIJklmnop done`;
    const out = sslPayload(new Redactor().redact(ssl('WRITE/SEND', text))).toString('latin1');
    expect(out.length).toBe(text.length);
    for (const s of [
      W.GOOGLE_KEY.slice(4),
      'plain-secret-value',
      'hunter2-long',
      'rt_0123456789',
      'cs_abcdef',
      W.ANTHROPIC_KEY.slice(7),
      SECRET.slice(8),
      'abcdefghijABCDEFGHIJ',
    ]) {
      expect(out).not.toContain(s);
    }
    expect(out).toContain('"model": "x"');
    expect(out).toContain('&alt=sse');
    expect(out).toContain('echo sk-ant-[REDACTED]');
  });

  it('catches a secret split across two TLS calls, and a long header value spanning calls', () => {
    const r = new Redactor();
    const line = `x-api-key: ${W.ANTHROPIC_KEY}\r\n`;
    const cut = 'x-api-key: sk-ant-api03-FA'.length;
    const a = sslPayload(r.redact(ssl('WRITE/SEND', 'POST / HTTP/1.1\r\n' + line.slice(0, cut)))).toString('latin1');
    const b = sslPayload(r.redact(ssl('WRITE/SEND', line.slice(cut) + 'Accept: */*\r\n\r\n'))).toString('latin1');
    expect(a + b).not.toMatch(/FAKEfake/);
    expect(b).toContain('Accept: */*');
    const cookie = 'Cookie: ' + 'c'.repeat(3000) + '\r\nX: y\r\n';
    const r2 = new Redactor();
    const parts = splitAt(Buffer.from(cookie), [1000, 2000]).map((p) => sslPayload(r2.redact(ssl('WRITE/SEND', p))).toString('latin1'));
    expect(parts.join('')).not.toContain('ccc');
    expect(parts.join('').endsWith('\r\nX: y\r\n')).toBe(true);
  });

  it('never leaks more than a few characters of a key, however the calls split it (property)', () => {
    const text = `POST /v1/messages HTTP/1.1\r\nx-api-key: ${W.ANTHROPIC_KEY}\r\nAuthorization: Bearer ${SECRET}\r\n\r\n{"messages":[{"content":"my key is ${SECRET} ok"}]}`;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 12 }), (cuts) => {
        const r = new Redactor();
        const out = splitAt(Buffer.from(text), cuts)
          .map((p) => sslPayload(r.redact(ssl('WRITE/SEND', p, { conn: 'prop' }))).toString('latin1'))
          .join('');
        expect(out.length).toBe(text.length);
        // no 6-character run of the secret parts survives
        for (const key of [W.ANTHROPIC_KEY.slice(7), SECRET.slice(8)]) {
          for (let i = 0; i + 6 <= key.length; i++) expect(out).not.toContain(key.slice(i, i + 6));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps Content-Length and chunked framing intact, so the parser still works after it', async () => {
    const body = `{"api_key":"${SECRET}","q":"hi"}`;
    const rq = `POST /v1/a HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${SECRET}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const rs = Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'),
      chunked([`{"access_token":"${SECRET.slice(0, 20)}`, `${SECRET.slice(20)}","ok":true}`]),
    ]);
    const events = [
      ssl('WRITE/SEND', rq),
      ssl('READ/RECV', rs),
      ssl('WRITE/SEND', 'GET /next HTTP/1.1\r\nHost: h\r\n\r\n'),
      ssl('READ/RECV', 'HTTP/1.1 204 No Content\r\n\r\n'),
    ];
    const out = await run([new Redactor(), new HttpParser({ emitStats: false })], events);
    expect(http(out, 'parse_error')).toHaveLength(0);
    expect(http(out, 'request').map((r) => r.path)).toEqual(['/v1/a', '/next']);
    const [req] = http(out, 'request');
    expect(JSON.parse(req.body).q).toBe('hi');
    expect(req.body.length).toBe(body.length);
    expect(http(out, 'response')[0].status_code).toBe(200);
    for (const e of out) expect(everyString(e)).not.toContain(SECRET.slice(8, 20));
  });

  it('does not touch clean events nor modify its input', () => {
    const r = new Redactor();
    const clean = ssl('READ/RECV', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(r.redact(clean)).toBe(clean);
    const dirty = ssl('WRITE/SEND', `GET / HTTP/1.1\r\nAuthorization: Bearer ${SECRET}\r\n\r\n`);
    const before = JSON.stringify(dirty);
    const attached = Buffer.from(`GET / HTTP/1.1\r\nAuthorization: Bearer ${SECRET}\r\n\r\n`);
    attachPayload(dirty, attached);
    const out = r.redact(dirty);
    expect(out).not.toBe(dirty);
    expect(JSON.stringify(dirty)).toBe(before);
    expect(attached.toString()).toContain(SECRET);
    expect(sslPayload(out).toString()).not.toContain(SECRET);
    expect(r.stats().events_redacted).toBe(1);
  });
});

describe('Redactor on parsed events and everywhere else', () => {
  it('works after the parser too: headers [REDACTED], URL, bodies, raw, merged answers', async () => {
    const events = [
      ssl('WRITE/SEND', W.anthropicRequest()),
      ssl('READ/RECV', W.anthropicStreamResponse({ text: [`Your key is ${W.ANTHROPIC_KEY}`] })),
      ssl('WRITE/SEND', W.geminiRequest().toString().replace('?alt=sse', `?alt=sse&key=${W.GOOGLE_KEY}`)),
      ssl('READ/RECV', W.geminiStreamResponse()),
      ssl('WRITE/SEND', W.openaiChatRequest()),
      ssl('READ/RECV', W.openaiChatStreamResponse()),
    ];
    const out = await run([new HttpParser({ rawData: true, passThroughSsl: false }), new SseProcessor(), new Redactor()], events);
    for (const e of out) {
      const s = everyString(e);
      expect(s).not.toContain(W.ANTHROPIC_KEY.slice(7, 30));
      expect(s).not.toContain(W.OPENAI_KEY.slice(8, 30));
      expect(s).not.toContain(W.GOOGLE_KEY.slice(4));
    }
    const reqs = http(out, 'request');
    expect(reqs[0].headers['x-api-key']).toBe('[REDACTED]');
    expect(reqs[1].headers['x-goog-api-key']).toBe('[REDACTED]');
    expect(reqs[2].headers.authorization).toBe('[REDACTED]');
    expect(reqs[1].path).toMatch(/&key=\[REDACTED\]\*+$/);
    expect(http(out, 'response')[2].headers['set-cookie']).toBe('[REDACTED]');
    const merged = out.filter((e) => e.source === 'sse');
    expect(merged[0].data.text).toMatch(/^Your key is sk-ant-\[REDACTED\]\*+$/);
  });

  it('gives the same clean result when it runs before the parser', async () => {
    const events = [ssl('WRITE/SEND', W.openaiChatRequest()), ssl('READ/RECV', W.openaiChatStreamResponse())];
    const before = await run([new Redactor(), new HttpParser({ passThroughSsl: false, emitStats: false })], events);
    const after = await run([new HttpParser({ passThroughSsl: false, emitStats: false }), new Redactor()], events);
    const reqB = http(before, 'request')[0];
    const reqA = http(after, 'request')[0];
    expect(reqB.body).toBe(reqA.body);
    expect(reqA.headers.authorization).toBe('[REDACTED]');
    expect(reqB.headers.authorization.startsWith('[REDACTED]***')).toBe(true);
    expect(JSON.stringify(before)).not.toContain(W.OPENAI_KEY.slice(8));
  });

  it('masks secrets the raw bytes hid: a gzip body is redacted by the parser after decoding', async () => {
    const body = zlib.gzipSync(JSON.stringify({ access_token: 'ya29.a0AfH6SMBx-secret-oauth-token', expires_in: 3599 }));
    const rs = Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`),
      body,
    ]);
    const events = [ssl('WRITE/SEND', 'POST /token HTTP/1.1\r\nHost: oauth2.googleapis.com\r\nContent-Length: 0\r\n\r\n'), ssl('READ/RECV', rs)];
    const out = await run([new Redactor(), new HttpParser()], events);
    const res = http(out, 'response')[0];
    expect(res.body).not.toContain('secret-oauth-token');
    expect(JSON.parse(res.body).expires_in).toBe(3599);
    const off = await run([new HttpParser({ redactDecoded: false })], events);
    expect(http(off, 'response')[0].body).toContain('secret-oauth-token');
  });

  it('masks secrets in websocket messages: masked and compressed frames by the parser, any websocket event by the Redactor', async () => {
    const text = JSON.stringify({ type: 'response.create', input: `use ${SECRET}`, metadata: { api_key: 'plain-value-123456' } });
    const frame = (payload: Buffer, rsv1: boolean) => encodeFrame({ opcode: OPCODE.text, payload, rsv1, mask: Buffer.from([9, 8, 7, 6]) });
    const compressed = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const up =
      'GET /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const ok = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n';
    const events = [
      ssl('WRITE/SEND', up),
      ssl('READ/RECV', ok),
      ssl('WRITE/SEND', frame(Buffer.from(text), false)),
      ssl('WRITE/SEND', frame(compressed, true)),
    ];
    const out = await run([new Redactor(), new HttpParser()], events);
    const msgs = out.filter((e) => e.source === 'websocket' && e.data.type === 'message');
    expect(msgs.map((e) => e.data.compressed)).toEqual([false, true]);
    for (const e of msgs) {
      expect(e.data.data).not.toContain(SECRET.slice(8));
      expect(e.data.data).toContain('response.create');
    }
    // a websocket event from elsewhere (a replayed file, a parser without redactDecoded) goes through the Redactor's string masking
    const raw = (await run([new HttpParser({ redactDecoded: false })], events)).filter((e) => e.source === 'websocket' && e.data.type === 'message');
    expect(raw[0].data.data).toContain(SECRET);
    for (const e of raw) {
      const masked = new Redactor().redact(e);
      expect(JSON.stringify(masked)).not.toContain(SECRET.slice(8));
      expect(masked.data.opcode).toBe('text');
    }
  });

  it('masks keys in process events (argv, environment-style assignments)', () => {
    const exec: Event = {
      timestamp: 1,
      source: 'process',
      pid: 9,
      comm: 'bash',
      data: {
        event: 'EXEC',
        argv: ['curl', '-H', `Authorization: Bearer ${SECRET}`, `https://x/?api_key=abc123def`],
        full_command: `OPENAI_API_KEY=${SECRET} python agent.py`,
      },
    };
    const out = new Redactor().redact(exec);
    expect(JSON.stringify(out)).not.toContain(SECRET.slice(8));
    expect(JSON.stringify(out)).not.toContain('abc123def');
    expect(out.data.argv[0]).toBe('curl');
    expect(JSON.stringify(exec)).toContain(SECRET);
  });

  it('masks secret-named keys in tool-call arguments', () => {
    const e: Event = {
      timestamp: 1,
      source: 'sse',
      pid: 1,
      comm: 'x',
      data: {
        type: 'merged',
        tool_calls: [{ name: 'deploy', arguments: { region: 'eu', password: 'p@ssw0rd!' }, arguments_raw: '{"region":"eu","password":"p@ssw0rd!"}' }],
      },
    };
    const out = new Redactor().redact(e);
    expect(out.data.tool_calls[0].arguments).toEqual({ region: 'eu', password: '*********' });
    expect(out.data.tool_calls[0].arguments_raw).toBe('{"region":"eu","password":"*********"}');
  });

  it('leaves ordinary text alone (no over-redaction of code)', () => {
    const code = 'sorted(items, key=len)\nfor token in tokens: print(token)\n{"key": "user_id", "max_tokens": 1024}\nx-ratelimit-remaining-tokens: 199993';
    expect(redactText(code)).toBe(code);
  });
});
