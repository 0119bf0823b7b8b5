import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpFilter, SslFilter } from '../../lib/analyzers/filters';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import type { Event } from '../../lib/core/event';
import { UsageError } from '../../lib/core/errors';
import { httpDialect, sslDialect } from '../../lib/filter/dialects';
import { Expr, parseExpr, printExpr } from '../../lib/filter/expr';
import { connId, exec, run, ssl } from '../support/events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const W = require('../fixtures/wire-samples.js');

const P = (s: string) => printExpr(parseExpr(s, httpDialect));

function httpEvent(data: Record<string, unknown>, comm = 'python3'): Event {
  return { timestamp: 1, source: 'http', pid: 10, comm, data };
}
let seq = 0;
const request = (method: string, path: string, extra: Record<string, unknown> = {}) =>
  httpEvent({
    type: 'request',
    conn_id: 'c',
    seq: seq++,
    method,
    path,
    host: 'api.openai.com',
    url: `https://api.openai.com${path}`,
    headers: { 'user-agent': 'curl/8.5.0', 'content-type': 'application/json' },
    body: '{"model":"gpt-4o"}',
    body_encoding: 'utf8',
    ...extra,
  });

describe('filter grammar', () => {
  it('binds & tighter than |, honours parentheses and !', () => {
    expect(P('request.method=GET | request.method=POST & request.path=/x')).toBe('request.method = GET | request.method = POST & request.path = /x');
    const e = parseExpr('request.method=GET | request.method=POST & request.path=/x', httpDialect);
    expect(e.kind).toBe('or');
    expect(e.kind === 'or' && e.right.kind).toBe('and');
    expect(P('(request.method=GET | request.method=POST) & request.path=/x')).toBe('(request.method = GET | request.method = POST) & request.path = /x');
    expect(P('!(response.status_code >= 400) & !request.host~local')).toBe('!response.status_code >= 400 & !request.host ~ local');
    expect(P('!(GET | POST)')).toBe('!(request.method = GET | request.method = POST)');
    expect(P('req.method=get && res.status=200 || resp.headers.Content-Type ~ json')).toBe(
      'request.method = get & response.status_code = 200 | response.header.content-type ~ json',
    );
  });

  it('reads bare words as a user would guess (HTTP)', () => {
    expect(P('GET /health')).toBe('request.method = GET & request.path_prefix = /health');
    expect(P('POST /api')).toBe('request.method = POST & request.path_prefix = /api');
    expect(P('get')).toBe('request.method = GET');
    expect(P('404')).toBe('response.status_code = 404');
    expect(P('5xx')).toBe('response.status_code >= 500 & response.status_code < 600');
    expect(P('localhost:8080 | statsig.anthropic.com')).toBe('request.host ~ localhost:8080 | request.host ~ statsig.anthropic.com');
    expect(P('GET /metrics | POST /v1/rgstr')).toBe(
      'request.method = GET & request.path_prefix = /metrics | request.method = POST & request.path_prefix = /v1/rgstr',
    );
  });

  it('reads bare words as a user would guess (SSL)', () => {
    const S = (s: string) => printExpr(parseExpr(s, sslDialect));
    expect(S('handshake')).toBe('function = HANDSHAKE');
    expect(S('READ | send')).toBe('function = READ/RECV | function = WRITE/SEND');
    expect(S('keep-alive')).toBe('data ~ keep-alive');
    expect(S('comm=curl & len<10')).toBe('comm = curl & len < 10');
  });

  it('fails at construction with a UsageError that points at the error', () => {
    const cases: Array<[string, RegExp, number]> = [
      ['request.methd=GET', /unknown field "request.methd"/, 0],
      ['request.method=GET &', /expected a condition after an operator/, 20],
      ['(request.method=GET', /missing "\)"/, 19],
      ['request.method=GET)', /unbalanced "\)"/, 18],
      ['response.status_code > abc', /compares numbers/, 23],
      ['request.path = "/unterminated', /unterminated string/, 15],
      ['banana', /bare word "banana"/, 0],
      ['= GET', /needs a field/, 0],
      ['', /empty expression/, 0],
    ];
    for (const [src, msg, col] of cases) {
      let err: unknown;
      try {
        new HttpFilter(src);
      } catch (e) {
        err = e;
      }
      expect(err, src).toBeInstanceOf(UsageError);
      const m = (err as Error).message;
      expect(m).toMatch(msg);
      const lines = m.split('\n');
      expect(lines[1]).toBe(`  ${src}`);
      expect(lines[2]).toBe(`  ${' '.repeat(col)}^`);
    }
    expect(() => new SslFilter('pidd=1')).toThrow(/--ssl-filter expression: unknown field "pidd"/);
  });

  it('round-trips: print then parse gives the same tree (property)', () => {
    const fields = fc.constantFrom(
      'request.method',
      'request.path',
      'request.path_prefix',
      'request.host',
      'request.body',
      'response.status_code',
      'response.content_type',
      'response.body',
      'comm',
      'pid',
      'latency_ms',
      'data.type',
    );
    const header = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/).map((h) => `request.header.${h}`);
    const strOp = fc.constantFrom<'=' | '!=' | '~'>('=', '!=', '~');
    const numOp = fc.constantFrom<'>' | '<' | '>=' | '<='>('>', '<', '>=', '<=');
    const cmp: fc.Arbitrary<Expr> = fc.oneof(
      fc.record({ kind: fc.constant('cmp' as const), field: fc.oneof(fields, header), op: strOp, value: fc.string({ maxLength: 12, unit: 'grapheme' }) }),
      fc.record({
        kind: fc.constant('cmp' as const),
        field: fields,
        op: numOp,
        value: fc.oneof(
          fc.integer().map(String),
          fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((d) => String(Math.abs(d) < 1e-6 ? 0 : d)),
        ),
      }),
    );
    const { expr } = fc.letrec<{ expr: Expr }>((tie) => ({
      expr: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        cmp,
        fc.record({ kind: fc.constant('not' as const), expr: tie('expr') }),
        fc.record({ kind: fc.constant('and' as const), left: tie('expr'), right: tie('expr') }),
        fc.record({ kind: fc.constant('or' as const), left: tie('expr'), right: tie('expr') }),
      ),
    }));
    fc.assert(
      fc.property(expr, (e) => {
        const text = printExpr(e);
        expect(parseExpr(text, httpDialect)).toEqual(e);
      }),
      { numRuns: 500 },
    );
  });
});

describe('HttpFilter', () => {
  it('"GET /health" drops GET /health... and nothing else', () => {
    const f = new HttpFilter('GET /health');
    expect(f.drops(request('GET', '/health'))).toBe(true);
    expect(f.drops(request('get', '/healthz'))).toBe(true);
    expect(f.drops(request('POST', '/health'))).toBe(false);
    expect(f.drops(request('GET', '/v1/health'))).toBe(false);
    expect(f.stats()).toMatchObject({ evaluated: 4, dropped: 2, dropped_by_expression: [2] });
  });

  it('compares numbers numerically and strings case-sensitively; header names ignore case', () => {
    const res = (status: number) =>
      httpEvent({
        type: 'response',
        conn_id: 'c',
        seq: status,
        status_code: status,
        content_type: 'application/json',
        headers: { 'x-request-id': 'Req_ABC' },
        request: { method: 'GET', path: '/v1/models', host: 'h' },
        latency_ms: 812.5,
      });
    expect(new HttpFilter('response.status_code >= 400').drops(res(404))).toBe(true);
    expect(new HttpFilter('response.status_code >= 400').drops(res(200))).toBe(false);
    expect(new HttpFilter('response.status_code = 200.0').drops(res(200))).toBe(true);
    expect(new HttpFilter('latency_ms > 800').drops(res(200))).toBe(true);
    expect(new HttpFilter('latency_ms < 99.5').drops(res(201))).toBe(false);
    expect(new HttpFilter('response.header.X-Request-Id = Req_ABC').drops(res(202))).toBe(true);
    expect(new HttpFilter('response.header.x-request-id = req_abc').drops(res(203))).toBe(false);
    expect(new HttpFilter('response.content_type ~ JSON').drops(res(204))).toBe(false);
    // the response carries its request's summary
    expect(new HttpFilter('GET /v1/models').drops(res(205))).toBe(true);
  });

  it('treats a condition on a field the event lacks as false, with any operator', () => {
    const chunk = httpEvent({ type: 'body_chunk', conn_id: 'z', seq: 3, data: 'x' });
    expect(new HttpFilter('request.method != GET').drops(chunk)).toBe(false);
    expect(new HttpFilter('!(request.method = GET)').drops(chunk)).toBe(true);
    expect(new HttpFilter('type = body_chunk').drops(chunk)).toBe(true);
  });

  it('drops the rest of an exchange once one of its events matched, and counts all', async () => {
    const ev = [
      ssl('WRITE/SEND', W.healthRequest()),
      ssl('READ/RECV', W.healthResponse()),
      ssl('WRITE/SEND', W.anthropicRequest()),
      ssl('READ/RECV', W.anthropicStreamResponse()),
      ssl('HANDSHAKE', ''),
    ];
    const f = new HttpFilter(['GET /health', 'request.host ~ anthropic & request.body ~ "capital of France"']);
    const out = await run([new HttpParser({ emitStats: false }), new SseProcessor({ emitStats: false }), f], [...ev.slice(0, 2), ...ev.slice(2)]);
    expect(out.filter((e) => e.source === 'http' || e.source === 'sse')).toHaveLength(0);
    expect(out.filter((e) => e.source === 'ssl')).toHaveLength(5);
    const s = f.stats();
    expect(s.dropped_by_expression).toEqual([1, 1]);
    // health: response; anthropic: response_headers, body_chunk, response, merged sse
    expect(s.dropped_with_exchange).toBeGreaterThanOrEqual(4);
    expect(s.dropped).toBe(s.evaluated);
    const keep = await run([new HttpParser({ emitStats: false }), new HttpFilter('GET /health')], ev);
    expect(keep.filter((e) => e.data.type === 'request').map((e) => e.data.path)).toEqual(['/v1/messages']);
  });

  it('passes non-http events untouched and in order', async () => {
    const p = exec({ pid: 1, comm: 'sh', filename: '/bin/sh', argv: ['sh'] });
    const s = ssl('WRITE/SEND', 'GET /health HTTP/1.1\r\n\r\n');
    const out = await run(new HttpFilter('GET /health'), [p, s]);
    expect(out).toEqual([p, s]);
    expect(out[1]).toBe(s);
  });
});

describe('SslFilter', () => {
  it('"handshake" drops handshake events only', async () => {
    const f = new SslFilter('handshake');
    const ev = [ssl('HANDSHAKE', ''), ssl('WRITE/SEND', 'GET / HTTP/1.1\r\n\r\n'), ssl('READ/RECV', 'HTTP/1.1 200 OK\r\n\r\n')];
    const out = await run(f, ev);
    expect(out.map((e) => e.data.function)).toEqual(['WRITE/SEND', 'READ/RECV']);
    expect(f.stats()).toEqual({ evaluated: 3, dropped: 1, dropped_by_expression: [1] });
  });

  it('filters on plaintext, process and numbers', () => {
    const w = ssl('WRITE/SEND', 'POST /v1/rgstr HTTP/1.1\r\nHost: statsig.anthropic.com\r\n\r\n', { comm: 'claude', pid: 777 });
    expect(new SslFilter('statsig').drops(w)).toBe(true);
    expect(new SslFilter('data ~ "Host: statsig" & comm = claude').drops(w)).toBe(true);
    expect(new SslFilter('comm = Claude').drops(w)).toBe(false);
    expect(new SslFilter('pid = 777 & len > 10').drops(w)).toBe(true);
    expect(new SslFilter(`pid != 777 | conn_id != "${connId(undefined, 777)}"`).drops(w)).toBe(false);
    expect(new SslFilter('write').drops(w)).toBe(true);
    expect(new SslFilter('truncated = true').drops(w)).toBe(false);
    expect(new SslFilter('library = openssl & remote_port = 443').drops(w)).toBe(true);
  });
});

describe('filters on hostile expressions and events', () => {
  it('10k-deep nesting is a usage error that says why, not a crash', () => {
    for (const src of ['('.repeat(10_000) + 'GET' + ')'.repeat(10_000), '!'.repeat(10_000) + 'GET']) {
      expect(() => parseExpr(src, httpDialect)).toThrow(UsageError);
      expect(() => parseExpr(src, httpDialect)).toThrow(/nested too deeply \(more than 100 levels/);
    }
    // 100 levels are fine
    expect(P('('.repeat(100) + 'GET' + ')'.repeat(100))).toBe('request.method = GET');
  });

  it('a flat OR of 10k terms compiles, prints and evaluates on every event', async () => {
    const terms = Array.from({ length: 10_000 }, (_, i) => `request.path=/p${i}`);
    const f = new HttpFilter([terms.join(' | '), terms.join(' & ')]);
    expect(f.describe()[0].split(' | ')).toHaveLength(10_000);
    const events = [request('GET', '/p9999'), request('GET', '/other'), request('GET', '/p0')];
    const out = await run(f, events);
    expect(out.map((e) => e.data.path)).toEqual(['/other']);
    expect(f.stats()).toMatchObject({ evaluated: 3, dropped: 2, dropped_by_expression: [2, 0] });
  });

  it('numeric comparisons are linear in the field value (a 600 KB header of digits)', async () => {
    const digits = '1'.repeat(600_000) + 'x';
    const f = new HttpFilter(['request.header.x-big > 5']);
    const out = await run(f, [request('GET', '/big', { headers: { 'x-big': digits } }), request('GET', '/n', { headers: { 'x-big': '7' } })]);
    expect(out.map((e) => e.data.path)).toEqual(['/big']);
  });
});
