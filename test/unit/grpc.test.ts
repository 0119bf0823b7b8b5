/**
 * gRPC recognised in HTTP messages: real HTTP/2 bytes from node's http2
 * client and server carrying gRPC framing, and gRPC-Web over HTTP/1.1.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpParser } from '../../lib/analyzers/http-parser';
import type { Event } from '../../lib/core/event';
import { grpcInfo, grpcKind, grpcMethod } from '../../lib/http/grpc';
import { captureH2, type H2Capture } from '../support/h2-capture';
import { http, run, ssl } from '../support/events';

/** One length-prefixed gRPC message. */
function frame(payload: Buffer | string, flags = 0): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(5);
  h[0] = flags;
  h.writeUInt32BE(p.length, 1);
  return Buffer.concat([h, p]);
}

const PROTO_A = Buffer.from([0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]); // field 1: "hello"
const PROTO_B = Buffer.alloc(300, 0x11);

function sslEvents(client: Buffer[], server: Buffer[]): Event[] {
  return [...client.map((b) => ssl('WRITE/SEND', b, { conn: 'grpc' })), ...server.map((b) => ssl('READ/RECV', b, { conn: 'grpc' }))];
}

describe('gRPC over HTTP/2 (node:http2)', () => {
  let cap: H2Capture;
  beforeAll(async () => {
    cap = await captureH2([
      {
        method: 'POST',
        path: '/agentsight.test.Echo/Say',
        headers: { 'content-type': 'application/grpc', te: 'trailers', 'grpc-encoding': 'identity' },
        body: frame(PROTO_A),
        status: 200,
        responseHeaders: { 'content-type': 'application/grpc+proto', 'grpc-encoding': 'gzip' },
        responseBody: [frame(PROTO_A), frame(PROTO_B, 1)],
        trailers: { 'grpc-status': '0' },
      },
      {
        method: 'POST',
        path: '/agentsight.test.Echo/Say',
        headers: { 'content-type': 'application/grpc', te: 'trailers' },
        body: frame(PROTO_A),
        status: 200,
        // trailers-only: the outcome is in the headers
        responseHeaders: { 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'bad%20credentials%3A%20key%20expired' },
        responseBody: [],
      },
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{}'),
        status: 200,
        responseHeaders: { 'content-type': 'application/json' },
        responseBody: [Buffer.from('{}')],
      },
    ]);
  });

  it('requests and responses say the method, the messages and the status', async () => {
    const evs = await run(new HttpParser(), sslEvents(cap.client, cap.server));
    const reqs = http(evs, 'request');
    const resps = http(evs, 'response');
    expect(reqs).toHaveLength(3);
    expect(reqs[0].version).toBe('2');
    expect(reqs[0].grpc).toEqual({
      service: 'agentsight.test.Echo',
      method: 'Say',
      web: false,
      messages: 1,
      compressed_messages: 0,
      message_bytes: 7,
      encoding: 'identity',
      framing: 'complete',
    });
    expect(resps[0].grpc).toEqual({
      service: 'agentsight.test.Echo',
      method: 'Say',
      web: false,
      messages: 2,
      compressed_messages: 1,
      message_bytes: 307,
      encoding: 'gzip',
      framing: 'complete',
      status: 0,
      status_name: 'OK',
    });
    expect(resps[0].trailers).toEqual({ 'grpc-status': '0' });
    // the messages' bytes are kept as they were sent
    expect(Buffer.from(resps[0].body, resps[0].body_encoding === 'base64' ? 'base64' : 'utf8')).toEqual(Buffer.concat([frame(PROTO_A), frame(PROTO_B, 1)]));
    expect(resps[1].grpc).toMatchObject({ messages: 0, status: 16, status_name: 'UNAUTHENTICATED', status_message: 'bad credentials: key expired' });
    // not gRPC: no grpc field
    expect(reqs[2].grpc).toBeUndefined();
    expect(resps[2].grpc).toBeUndefined();
  });

  it('any split of the byte streams gives the same gRPC fields', async () => {
    const whole = http(await run(new HttpParser(), sslEvents(cap.client, cap.server)), 'response').map((r) => r.grpc);
    const all = { c: Buffer.concat(cap.client), s: Buffer.concat(cap.server) };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), async (cuts) => {
        const pieces = (b: Buffer) => {
          const at = [...new Set(cuts.map((f) => Math.floor(f * b.length)))].filter((x) => x > 0 && x < b.length).sort((a, b2) => a - b2);
          const out: Buffer[] = [];
          let prev = 0;
          for (const x of [...at, b.length]) {
            out.push(b.subarray(prev, x));
            prev = x;
          }
          return out;
        };
        const got = http(await run(new HttpParser(), sslEvents(pieces(all.c), pieces(all.s))), 'response').map((r) => r.grpc);
        expect(got).toEqual(whole);
      }),
      { numRuns: 40 },
    );
  });

  it('a body cut at the size limit says its framing was cut', async () => {
    const evs = await run(new HttpParser({ maxBodyBytes: 100 }), sslEvents(cap.client, cap.server));
    const r = http(evs, 'response')[0];
    expect(r.body_truncated).toBe(true);
    expect(r.grpc).toMatchObject({ messages: 1, framing: 'cut', status: 0 });
  });
});

describe('gRPC-Web over HTTP/1.1', () => {
  it('messages counted, the trailer frame read as the outcome', async () => {
    const body = Buffer.concat([frame(PROTO_A), frame('grpc-status: 7\r\ngrpc-message: no%20access\r\n', 0x80)]);
    const req = Buffer.concat([
      Buffer.from(
        `POST /pkg.Svc/Do HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${frame(PROTO_A).length}\r\n\r\n`,
      ),
      frame(PROTO_A),
    ]);
    const resp = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    const evs = await run(new HttpParser(), [ssl('WRITE/SEND', req, { conn: 'web' }), ssl('READ/RECV', resp, { conn: 'web' })]);
    expect(http(evs, 'request')[0].grpc).toMatchObject({ service: 'pkg.Svc', method: 'Do', web: true, messages: 1, framing: 'complete' });
    expect(http(evs, 'response')[0].grpc).toMatchObject({ web: true, messages: 1, status: 7, status_name: 'PERMISSION_DENIED', status_message: 'no access' });
  });

  it('gRPC-Web-text (base64) is read through its encoding', () => {
    const text = Buffer.from(frame(PROTO_B).toString('base64'));
    expect(grpcInfo('grpc-web', 'application/grpc-web-text', text, false, {}, undefined, '/a.B/C', false)).toMatchObject({ messages: 1, message_bytes: 300 });
  });
});

describe('gRPC framing on bad input', () => {
  it('unknown flags stop the count and say invalid; a short prefix or message says cut; never a throw', () => {
    const ok = frame(PROTO_A);
    expect(grpcInfo('grpc', 'application/grpc', Buffer.concat([ok, Buffer.from([0x42, 0, 0, 0, 1, 0])]), false, {}, undefined, '/a.B/C', false)).toMatchObject({
      messages: 1,
      framing: 'invalid',
    });
    expect(grpcInfo('grpc', 'application/grpc', Buffer.concat([ok, ok.subarray(0, 3)]), false, {}, undefined, '/a.B/C', false).framing).toBe('cut');
    expect(grpcInfo('grpc', 'application/grpc', Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1]), false, {}, undefined, '/a.B/C', false)).toMatchObject({
      messages: 0,
      framing: 'cut',
    });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const info = grpcInfo('grpc', 'application/grpc', Buffer.from(b), false, { 'grpc-status': 'x' }, undefined, '/x', true);
        expect(info.message_bytes).toBeLessThanOrEqual(b.length);
        expect(info.status).toBeUndefined();
      }),
    );
  });

  it('content types and paths', () => {
    expect(grpcKind('application/grpc')).toBe('grpc');
    expect(grpcKind('application/grpc+proto')).toBe('grpc');
    expect(grpcKind('application/grpc; charset=utf-8')).toBe('grpc');
    expect(grpcKind('application/grpc-web-text')).toBe('grpc-web');
    expect(grpcKind('application/grpcx')).toBeNull();
    expect(grpcKind('application/json')).toBeNull();
    expect(grpcKind(undefined)).toBeNull();
    expect(grpcMethod('/google.ai.generativelanguage.v1beta.GenerativeService/StreamGenerateContent')).toEqual({
      service: 'google.ai.generativelanguage.v1beta.GenerativeService',
      method: 'StreamGenerateContent',
    });
    expect(grpcMethod('/v1/models/x:generate')).toEqual({ service: null, method: null });
    expect(grpcMethod('/a/b/c')).toEqual({ service: null, method: null });
  });
});
