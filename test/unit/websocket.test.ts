/**
 * The WebSocket decoder (lib/http/ws) against a real peer: the `ws` package
 * as client and server, bytes recorded by a relay; with and without
 * permessage-deflate and context takeover, fragments with pings in between,
 * large messages. Any split of the streams gives the same messages; garbage
 * gives errors, never a throw or a hang; memory stays within the bounds.
 */
import fc from 'fast-check';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { WsDecoder, type WsError, type WsMessage } from '../../lib/http/ws/decoder';
import { negotiatedDeflate, type DeflateDirection } from '../../lib/http/ws/deflate';
import { closePayload, encodeFrame, OPCODE } from '../../lib/http/ws/frame';
import { captureWs, streams, type WsCapture, type WsScenario } from '../support/ws-capture';
import { splitAt } from '../support/events';

interface Decoded {
  client: WsMessage[];
  server: WsMessage[];
  errors: WsError[];
}

/** The WebSocket part of a stream (after the handshake head) and the head. */
function afterHead(b: Buffer): { head: string; rest: Buffer } {
  const i = b.indexOf('\r\n\r\n');
  return { head: b.subarray(0, i + 4).toString('latin1'), rest: b.subarray(i + 4) };
}

function decoder(out: WsMessage[], errors: WsError[], fromClient: boolean, deflate: DeflateDirection | null, maxMessageBytes = 1 << 24) {
  return new WsDecoder({ onBegin: () => undefined, onMessage: (m) => out.push(m), onError: (e) => errors.push(e) }, { fromClient, deflate, maxMessageBytes });
}

function decode(cap: WsCapture, cut: (b: Buffer) => Buffer[] = (b) => [b]): Decoded {
  const s = streams(cap);
  const c = afterHead(s.client);
  const sv = afterHead(s.server);
  const df = negotiatedDeflate(/^sec-websocket-extensions: (.*)$/im.exec(sv.head)?.[1]?.trim());
  const out: Decoded = { client: [], server: [], errors: [] };
  const dc = decoder(out.client, out.errors, true, df?.client ?? null);
  const ds = decoder(out.server, out.errors, false, df?.server ?? null);
  for (const p of cut(c.rest)) dc.push(p);
  for (const p of cut(sv.rest)) ds.push(p);
  dc.end();
  ds.end();
  return out;
}

// compared as base64 text: deep equality of large Buffers is slow
const b64 = (b: Buffer) => b.toString('base64');
const data = (ms: WsMessage[]) =>
  ms.filter((m) => m.kind === 'text' || m.kind === 'binary').map((m) => ({ binary: m.kind === 'binary', data: b64(m.payload) }));
const received = (rs: WsCapture['byServer']) => rs.map((r) => ({ binary: r.binary, data: b64(r.data) }));
const payloads = (ms: WsMessage[], kind: string) => ms.filter((m) => m.kind === kind).map((m) => b64(m.payload));
const shape = (ms: WsMessage[]) =>
  ms.map((m) => ({ kind: m.kind, payload: m.payload.toString('base64'), frames: m.frames, compressed: m.compressed, size: m.size }));

const json = (i: number) => JSON.stringify({ type: 'response.output_text.delta', sequence_number: i, delta: `piece ${i} of the answer ` });
const big = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i} ${i % 7 ? 'lorem' : 'ipsum'}\n`).join(''));
const random = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24));

const SCENARIO: Omit<WsScenario, 'deflate'> = {
  client: [
    { send: JSON.stringify({ type: 'response.create', model: 'gpt-5', input: 'héllo — ✓ 🙂' }) },
    { send: '' },
    { send: 'fragment one, ', fin: false },
    { ping: 'are you there' },
    { send: 'fragment two, ', fin: false },
    { pong: 'unsolicited' },
    { send: 'the end' },
    { send: random },
    { send: big },
    { send: Buffer.alloc(0) },
    { await: 12 },
  ],
  server: [...Array.from({ length: 10 }, (_, i) => ({ send: json(i) })), { ping: Buffer.from([0, 1, 2, 255]) }, { send: big }, { send: random }],
};

const DEFLATES: Record<string, WsScenario['deflate']> = {
  'no compression': false,
  'permessage-deflate with context takeover': { threshold: 0 },
  'permessage-deflate without context takeover': { threshold: 0, clientNoContextTakeover: true, serverNoContextTakeover: true },
  'permessage-deflate, small windows': { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
  'permessage-deflate above a threshold (some messages compressed)': { threshold: 100 },
};

describe('the WebSocket decoder against the ws package', () => {
  const caps: Record<string, WsCapture> = {};
  beforeAll(async () => {
    for (const [name, deflate] of Object.entries(DEFLATES)) caps[name] = await captureWs({ ...SCENARIO, deflate });
  }, 60_000);

  for (const name of Object.keys(DEFLATES)) {
    it(`${name}: every message as the peer received it, control frames in between`, () => {
      const cap = caps[name];
      const d = decode(cap);
      expect(d.errors).toEqual([]);
      expect(data(d.client)).toEqual(received(cap.byServer));
      expect(data(d.server)).toEqual(received(cap.byClient));
      expect(payloads(d.client, 'ping')).toEqual(cap.pingsByServer.map(b64));
      expect(payloads(d.client, 'pong')).toEqual(cap.pongsByServer.map(b64));
      expect(payloads(d.server, 'ping')).toEqual(cap.pingsByClient.map(b64));
      expect(payloads(d.server, 'pong')).toEqual(cap.pongsByClient.map(b64));
      const fragmented = d.client.find((m) => m.frames === 3);
      expect(fragmented?.payload.toString()).toBe('fragment one, fragment two, the end');
      // the ping came between the fragments and was delivered before the message they make
      expect(d.client.findIndex((m) => m.kind === 'ping')).toBeLessThan(d.client.indexOf(fragmented as WsMessage));
      const close = d.client.find((m) => m.kind === 'close') as WsMessage;
      expect(close.payload).toEqual(closePayload(1000, 'done'));
      expect(d.server.at(-1)?.kind).toBe('close');
      const compressed = [...d.client, ...d.server].filter((m) => m.compressed).length;
      if (name === 'no compression') expect(compressed).toBe(0);
      else expect(compressed).toBeGreaterThan(5);
      for (const m of [...d.client, ...d.server]) expect(m.truncated).toBe(false);
    });
  }

  it('any split of the byte streams gives the same messages', () => {
    for (const name of ['permessage-deflate with context takeover', 'no compression']) {
      const cap = caps[name];
      const whole = decode(cap);
      const total = Math.max(streams(cap).client.length, streams(cap).server.length);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: total }), { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), (cuts, small) => {
          // random cuts, and a stretch of very small reads at the start (headers split byte by byte)
          const split = (b: Buffer) => splitAt(b, [...cuts, ...Array.from({ length: 40 }, (_, i) => i * small)]);
          const d = decode(cap, split);
          expect(d.errors).toEqual([]);
          expect(shape(d.client)).toEqual(shape(whole.client));
          expect(shape(d.server)).toEqual(shape(whole.server));
        }),
        { numRuns: 40 },
      );
    }
  });
});

const frame = (opcode: number, payload: string | Buffer, o: Partial<Parameters<typeof encodeFrame>[0]> = {}) =>
  encodeFrame({ opcode, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, ...o });
const KEY = Buffer.from([1, 2, 3, 4]);

function run(bytes: Buffer[], fromClient = true, deflate: DeflateDirection | null = null, max = 1 << 20): Decoded & { dec: WsDecoder } {
  const out: Decoded = { client: [], server: [], errors: [] };
  const dec = decoder(out.client, out.errors, fromClient, deflate, max);
  for (const b of bytes) dec.push(b);
  return { ...out, dec };
}

describe('the WebSocket decoder on bad input and within its bounds', () => {
  it('garbage gives errors, never a throw; after a fatal error only bytes are counted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), fc.boolean(), (bytes, fromClient, deflate) => {
        const r = run([Buffer.from(bytes)], fromClient, deflate ? { noContextTakeover: false, windowBits: 15 } : null, 4096);
        expect(r.dec.heldBytes).toBeLessThanOrEqual(4096 + 125 + 14 + 32768);
        r.dec.end();
        const fatal = r.errors.filter((e) => e.fatal);
        expect(fatal.length).toBeLessThanOrEqual(1);
        if (fatal.length) expect(r.dec.stoppedBy).toBe(fatal[0].message);
        for (const m of r.client) expect(m.payload.length).toBeLessThanOrEqual(4096);
      }),
      { numRuns: 300 },
    );
  });

  it('a header announcing 2^63 bytes is refused without allocating; 2^40 bytes are received within the bound', () => {
    const h63 = Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    const r = run([h63, Buffer.alloc(100)], false);
    expect(r.errors).toMatchObject([{ kind: 'invalid_frame', fatal: true }]);
    expect(r.errors[0].message).toMatch(/most significant bit/);
    expect(r.dec.ignoredBytes).toBe(100);
    const h62 = Buffer.from([0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0]);
    expect(run([h62], false).errors[0].message).toMatch(/payload length of 4611686018427387904 bytes/);
    const h40 = Buffer.from([0x82, 0x7f, 0, 0, 0x01, 0, 0, 0, 0, 0]);
    const big = run([h40], false, null, 64 * 1024);
    for (let i = 0; i < 16; i++) big.dec.push(Buffer.alloc(64 * 1024, i));
    expect(big.dec.heldBytes).toBe(64 * 1024);
    big.dec.end();
    expect(big.client).toMatchObject([
      { kind: 'binary', truncated: true, incomplete: 'stream ended mid-message', size: 1 << 20, droppedBytes: (1 << 20) - 64 * 1024 },
    ]);
    expect(big.client[0].payload.length).toBe(64 * 1024);
  });

  it('a message larger than the bound is delivered truncated and counted', () => {
    const payload = Buffer.alloc(200_000, 0x61);
    const r = run(
      [frame(OPCODE.text, payload.subarray(0, 150_000), { fin: false, mask: KEY }), frame(OPCODE.continuation, payload.subarray(150_000), { mask: KEY })],
      true,
      null,
      65_536,
    );
    expect(r.client).toHaveLength(1);
    expect(r.client[0]).toMatchObject({ kind: 'text', truncated: true, size: 200_000, wireSize: 200_000, droppedBytes: 200_000 - 65_536, frames: 2 });
    expect(r.client[0].payload).toEqual(payload.subarray(0, 65_536));
  });

  it('a compression bomb stops at the bound; with context takeover the context is then lost, without it the next message decodes', () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(50 << 20), { level: 9 });
    const next = zlib.deflateRawSync(Buffer.from('after the bomb'));
    for (const takeover of [true, false]) {
      const dir: DeflateDirection = { noContextTakeover: !takeover, windowBits: 15 };
      const r = run([frame(OPCODE.binary, bomb, { rsv1: true }), frame(OPCODE.text, next, { rsv1: true })], false, dir, 1 << 20);
      expect(r.client[0]).toMatchObject({ kind: 'binary', compressed: true, truncated: true });
      expect(r.client[0].payload.length).toBeLessThanOrEqual(1 << 20);
      expect(r.client[0].payload.length).toBeGreaterThan(0);
      if (takeover) expect(r.client[1].decodeError).toMatch(/compression context is not known/);
      else expect(r.client[1]).toMatchObject({ kind: 'text', truncated: false, payload: Buffer.from('after the bomb') });
    }
  });

  it('frames that break RFC 6455 stop the direction with one error', () => {
    const cases: [string, Buffer[], RegExp, DeflateDirection | null][] = [
      ['RSV1 without deflate', [frame(OPCODE.text, 'x', { rsv1: true, mask: KEY })], /permessage-deflate was not negotiated/, null],
      ['a continuation first', [frame(OPCODE.continuation, 'x', { mask: KEY })], /no message to continue/, null],
      ['a long control frame', [frame(OPCODE.ping, Buffer.alloc(126), { mask: KEY })], /control frame of 126 bytes/, null],
      ['a fragmented control frame', [frame(OPCODE.ping, 'p', { fin: false, mask: KEY })], /fragmented control frame/, null],
      ['a reserved opcode', [frame(0x3, 'x', { mask: KEY })], /reserved opcode 0x3/, null],
      [
        'a new message inside a fragmented one',
        [frame(OPCODE.text, 'a', { fin: false, mask: KEY }), frame(OPCODE.text, 'b', { mask: KEY })],
        /before the fragmented one ended/,
        null,
      ],
      [
        'RSV1 on a continuation',
        [frame(OPCODE.text, 'a', { fin: false, mask: KEY }), frame(OPCODE.continuation, 'b', { rsv1: true, mask: KEY })],
        /continuation/,
        { noContextTakeover: false, windowBits: 15 },
      ],
    ];
    for (const [name, bytes, message, df] of cases) {
      const r = run([...bytes, frame(OPCODE.text, 'later', { mask: KEY })], true, df);
      expect(
        r.errors.filter((e) => e.fatal),
        name,
      ).toHaveLength(1);
      expect(r.errors.find((e) => e.fatal)?.message, name).toMatch(message);
      expect(
        r.client.find((m) => m.payload.toString() === 'later'),
        name,
      ).toBeUndefined();
    }
  });

  it('an unmasked client frame is noted once and decoded; bytes lost end the direction', () => {
    const r = run([frame(OPCODE.text, 'one'), frame(OPCODE.text, 'two'), frame(OPCODE.text, 'three, cut', { mask: KEY }).subarray(0, 8)], true);
    expect(r.errors).toMatchObject([{ kind: 'unmasked_client_frame', fatal: false }]);
    expect(r.client.map((m) => m.payload.toString())).toEqual(['one', 'two']);
    r.dec.gap(100);
    expect(r.errors.at(-1)).toMatchObject({ kind: 'gap', fatal: true });
    expect(r.client.at(-1)).toMatchObject({ kind: 'text', incomplete: 'bytes lost', truncated: true });
    r.dec.push(frame(OPCODE.text, 'ignored', { mask: KEY }));
    expect(r.client).toHaveLength(3);
  });
});
