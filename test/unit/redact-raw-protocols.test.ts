/**
 * Raw TLS data of HTTP/2 and WebSocket connections (`agentsight ssl` with
 * its default settings): real bytes from node's http2 and the ws package.
 * A secret must not be recoverable from the masked bytes: they are replayed
 * through a fresh HttpParser (no redaction), whose decoded headers, bodies
 * and messages must hold none of it, and the replay must still parse.
 */
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { tlsAnalyzers } from '../../lib/analyzers/chains';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { chainOptions } from '../../lib/config/options';
import type { Event } from '../../lib/core/event';
import { sslPayload } from '../../lib/core/payload';
import { captureH2, type H2Capture } from '../support/h2-capture';
import { captureWs, type WsCapture } from '../support/ws-capture';
import { run, ssl } from '../support/events';

/* eslint-disable @typescript-eslint/no-require-imports */
const C = require('../fixtures/redaction-corpus.js');
/* eslint-enable @typescript-eslint/no-require-imports */

const KEY = 'sk-ant-api03-' + 'H2and9Ws8Raw7Bytes6'.repeat(4) + 'AA';
const OPAQUE = 'opaqueH2Token' + 'Z9x8C7v6B5n4M3';
const HEADER_SECRET = 'hv-' + 'Q1w2E3r4T5y6U7i8K9';
const BODY_SECRET = 'refresh-' + 'P0o9I8u7Y6t5R4e3';

/** Everything the events say once decoded, ssl payloads included. */
function texts(events: Event[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    out.push(JSON.stringify(e));
    if (e.source === 'ssl') out.push(sslPayload(e).toString('latin1'));
    for (const [k, v] of Object.entries(e.data ?? {}))
      if (typeof v === 'string' && e.data[`${k}_encoding`] === 'base64') out.push(Buffer.from(v, 'base64').toString('latin1'));
  }
  return out;
}

function leaks(events: Event[]): string[] {
  const t = texts(events);
  return [KEY, OPAQUE, HEADER_SECRET, BODY_SECRET].flatMap((s) => C.leaks(s, t));
}

/** ssl events of a connection's two byte streams, cut at the given pieces. */
function events(client: Buffer[], server: Buffer[], order: Array<'c' | 's'>): Event[] {
  const out: Event[] = [];
  const c = [...client];
  const s = [...server];
  for (const who of order) {
    const b = who === 'c' ? c.shift() : s.shift();
    if (b) out.push(ssl(who === 'c' ? 'WRITE/SEND' : 'READ/RECV', b, { conn: 'proto' }));
  }
  for (const b of c) out.push(ssl('WRITE/SEND', b, { conn: 'proto' }));
  for (const b of s) out.push(ssl('READ/RECV', b, { conn: 'proto' }));
  return out;
}

function recut(pieces: Buffer[], fractions: number[]): Buffer[] {
  const all = Buffer.concat(pieces);
  const cuts = [...new Set(fractions.map((f) => Math.floor(f * all.length)))].filter((x) => x > 0 && x < all.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const x of [...cuts, all.length]) {
    out.push(all.subarray(prev, x));
    prev = x;
  }
  return out;
}

describe('raw HTTP/2 data', () => {
  let cap: H2Capture;
  beforeAll(async () => {
    const sse = C.deltas(`key ${KEY} end`, 5, 9).map((t: string) =>
      Buffer.from(`data: ${JSON.stringify({ type: 'content_block_delta', delta: { type: 'text_delta', text: t } })}\n\n`),
    );
    cap = await captureH2([
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { authorization: `Bearer ${OPAQUE}`, 'x-upstream-token': HEADER_SECRET, 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: `use ${KEY}` }] })),
        status: 200,
        responseHeaders: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        responseBody: [zlib.gzipSync(JSON.stringify({ refresh_token: BODY_SECRET }))],
      },
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { authorization: `Bearer ${OPAQUE}` },
        body: Buffer.from('{}'),
        status: 200,
        responseHeaders: { 'content-type': 'text/event-stream' },
        responseBody: sse,
      },
    ]);
  });

  const check = async (evs: Event[]) => {
    // the raw data as `agentsight ssl` writes it
    const masked = (await run(tlsAnalyzers(chainOptions({})), evs)).filter((e) => e.source === 'ssl');
    expect(leaks(masked)).toEqual([]);
    // replayed: the connection still parses, and what it decodes to holds no secret
    const replay = await run(
      new HttpParser({ redactDecoded: false }),
      masked.map((e) => ({ ...e, data: { ...e.data } })),
    );
    const reqs = replay.filter((e) => e.source === 'http' && e.data.type === 'request');
    expect(reqs).toHaveLength(2);
    expect(reqs[0].data.version).toBe('2');
    expect(reqs[0].data.headers.authorization).toMatch(/^\*+$/);
    expect(reqs[0].data.headers['content-type']).toBe('application/json');
    expect(leaks(replay)).toEqual([]);
    // and every chain with the parser keeps none either
    for (const o of [{ httpParser: true }, { httpParser: true, sseMerge: true, httpRawData: true }])
      expect(leaks(await run(tlsAnalyzers(chainOptions(o)), evs))).toEqual([]);
  };

  it('header values (HPACK, Huffman-coded) are overwritten in place, DATA searched, compressed DATA replaced', async () => {
    await check(events(cap.client, cap.server, []));
  });

  it('however the bytes are cut into TLS calls (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        async (a, b) => {
          const masked = (await run(tlsAnalyzers(chainOptions({})), events(recut(cap.client, a), recut(cap.server, b), []))).filter((e) => e.source === 'ssl');
          expect(leaks(masked)).toEqual([]);
          const replay = await run(new HttpParser({ redactDecoded: false }), masked);
          expect(leaks(replay)).toEqual([]);
        },
      ),
      { numRuns: 80 },
    );
  }, 60_000);
});

describe('telling HTTP/1 from HTTP/2', () => {
  it('an HTTP/1 request whose first TLS calls are a byte or two ("P", "O", like the preface) is not taken for HTTP/2', async () => {
    const body = zlib.gzipSync(JSON.stringify({ refresh_token: BODY_SECRET }));
    const request = Buffer.from('POST /oauth/token HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\n\r\n');
    const response = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    const evs = [
      ssl('WRITE/SEND', request.subarray(0, 1)),
      ssl('WRITE/SEND', request.subarray(1, 2)),
      ssl('WRITE/SEND', request.subarray(2)),
      ssl('READ/RECV', response),
    ];
    const masked = (await run(tlsAnalyzers(chainOptions({})), evs)).filter((e) => e.source === 'ssl');
    expect(masked[3].data.compressed_bytes_masked).toBe(body.length);
  });
});

describe('raw WebSocket data', () => {
  let cap: WsCapture;
  beforeAll(async () => {
    cap = await captureWs({
      deflate: { threshold: 0 },
      headers: { authorization: `Bearer ${OPAQUE}` },
      client: [
        { send: JSON.stringify({ type: 'response.create', input: `use ${KEY}` }) },
        { send: JSON.stringify({ api_key: HEADER_SECRET, password: BODY_SECRET }), compress: false },
        { await: 0 },
      ],
      server: [{ send: JSON.stringify({ type: 'response.output_text.delta', delta: `here ${KEY}` }), compress: false }, { send: `token=${OPAQUE}` }],
    });
  });

  it('masked client frames are masked under their key, compressed frames replaced, server text searched; a replay still parses', async () => {
    const evs = cap.pieces.map((p) => ssl(p.from === 'client' ? 'WRITE/SEND' : 'READ/RECV', p.bytes, { conn: 'ws' }));
    const masked = (await run(tlsAnalyzers(chainOptions({})), evs)).filter((e) => e.source === 'ssl');
    expect(leaks(masked)).toEqual([]);
    const replay = await run(new HttpParser({ redactDecoded: false }), masked);
    const msgs = replay.filter((e) => e.source === 'websocket' && e.data.type === 'message');
    expect(msgs.length).toBeGreaterThanOrEqual(2);
    expect(leaks(replay)).toEqual([]);
    const plain = msgs.find((e) => String(e.data.data).includes('"api_key"'));
    expect(plain?.data.data).toContain('"password":"[REDACTED]');
    expect(masked.some((e) => typeof e.data.compressed_bytes_masked === 'number')).toBe(true);
  });

  it('however each piece is cut into TLS calls, frame headers included (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), async (fractions) => {
        const evs = cap.pieces.flatMap((p) => recut([p.bytes], fractions).map((b) => ssl(p.from === 'client' ? 'WRITE/SEND' : 'READ/RECV', b, { conn: 'ws' })));
        const masked = (await run(tlsAnalyzers(chainOptions({})), evs)).filter((e) => e.source === 'ssl');
        expect(leaks(masked)).toEqual([]);
        expect(leaks(await run(new HttpParser({ redactDecoded: false }), masked))).toEqual([]);
      }),
      { numRuns: 80 },
    );
  }, 60_000);
});
