/**
 * zstd decoding is bounded: block by block, never more than one block past
 * the output cap, whatever one push holds; frames asking for a window above
 * 8 MB (RFC 9659) are refused before anything is allocated. And it decodes
 * what it should: real frames however they are cut, several frames,
 * skippable frames, checksums, truncated input.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBody, StreamingDecoder } from '../../lib/http/decode';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { http, run, ssl } from '../support/events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const zstd = require('@mongodb-js/zstd') as { compress(b: Buffer, level?: number): Promise<Buffer> };

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** Window descriptor for 2^(10 + e) bytes. */
const wd = (e: number) => e << 3;
/** A block header: size, type (0 raw, 1 RLE, 2 compressed), last. */
function blockHeader(size: number, type: number, last: boolean): Buffer {
  const h = (size << 3) | (type << 1) | (last ? 1 : 0);
  return Buffer.from([h & 255, (h >> 8) & 255, (h >> 16) & 255]);
}
/** A frame of `blocks` RLE blocks of 128 KiB of 'A': 4 bytes each, 128 KiB out each. */
function rleBomb(windowExp: number, blocks: number): Buffer {
  const parts: Buffer[] = [Buffer.from([...MAGIC, 0x00, wd(windowExp)])];
  for (let i = 0; i < blocks; i++) parts.push(blockHeader(131072, 1, i === blocks - 1), Buffer.from([0x41]));
  return Buffer.concat(parts);
}
/** A frame with one raw block, with a checksum (fzstd does not verify it). */
function rawFrame(content: Buffer, checksum = true): Buffer {
  return Buffer.concat([
    Buffer.from([...MAGIC, checksum ? 0x04 : 0x00, wd(7)]),
    blockHeader(content.length, 0, true),
    content,
    checksum ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0),
  ]);
}
const skippable = (payload: Buffer) => Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18]), Buffer.from(Uint32Array.of(payload.length).buffer), payload]);

/** Text that compresses only somewhat: random letters, a third of them repeating what came 64 bytes before. */
function pseudoRandomText(n: number): Buffer {
  const out = crypto.randomBytes(n);
  for (let i = 0; i < n; i++) out[i] = i > 64 && out[i] % 3 === 0 ? out[i - 64] : 0x61 + (out[i] % 26);
  return out;
}

function decodeStreaming(pieces: Buffer[], cap = 1 << 24): { out: Buffer; error: string | null } {
  const d = new StreamingDecoder(['zstd'], cap);
  const parts = pieces.map((p) => d.push(p));
  parts.push(d.finish());
  return { out: Buffer.concat(parts), error: d.error };
}

describe('zstd decoding', () => {
  it('one 8 KiB push of a bomb (256 MiB expanded) decodes no more than the cap: peak memory stays near it', () => {
    // a fresh process, so its peak RSS (VmHWM) is this decoding's alone; it was ~570 MB before
    const script = `
      const { StreamingDecoder, decodeBody } = require(${JSON.stringify(path.join(__dirname, '../../dist/http/decode.js'))});
      const hwm = () => Number(require('fs').readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\\s+(\\d+)/)[1]) / 1024;
      const bomb = Buffer.from(process.argv[1], 'base64');
      const base = hwm();
      const d = new StreamingDecoder(['zstd'], 1 << 20);
      const a = d.push(bomb).length;
      const b = decodeBody(bomb, ['zstd'], 1 << 20);
      console.log(JSON.stringify({ a, b: b.bytes.length, truncated: b.truncated, grewMiB: hwm() - base }));`;
    const bomb = rleBomb(7, 2046);
    expect(bomb.length).toBeLessThanOrEqual(8192);
    const r = JSON.parse(execFileSync(process.execPath, ['-e', script, bomb.toString('base64')], { encoding: 'utf8' }));
    expect(r).toMatchObject({ a: 1 << 20, b: 1 << 20, truncated: true });
    expect(r.grewMiB).toBeLessThan(24);
  });

  it('refuses a frame that asks for a window above 8 MB (RFC 9659) before decoding it; the body keeps its wire bytes', async () => {
    const big = rleBomb(19, 2); // 512 MiB window
    const r = decodeBody(big, ['zstd'], 1 << 20);
    expect(r).toMatchObject({ decoded: false, truncated: false });
    expect(r.error).toMatch(/window of 536870912 bytes, more than the 8388608 allowed in HTTP \(RFC 9659\)/);
    expect(r.bytes).toEqual(big);
    const s = decodeStreaming([big]);
    expect(s.out.length).toBe(0);
    expect(s.error).toMatch(/RFC 9659/);
    const out = await run(new HttpParser(), [
      ssl('WRITE/SEND', 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n'),
      ssl('READ/RECV', Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: ${big.length}\r\n\r\n`), big])),
    ]);
    const [res] = http(out, 'response');
    expect(res.decode_error).toMatch(/RFC 9659/);
    expect(Buffer.from(res.body, 'base64')).toEqual(big);
    // 8 MiB itself is allowed
    expect(decodeBody(rleBomb(13, 9), ['zstd'], 1 << 20)).toMatchObject({ decoded: true, truncated: true });
  });

  it('refuses blocks larger than the format allows and reserved block types', () => {
    const tooBig = Buffer.concat([Buffer.from([...MAGIC, 0x00, wd(13)]), blockHeader(200_000, 1, true), Buffer.from([0x41])]);
    expect(decodeBody(tooBig, ['zstd'], 1 << 24).error).toMatch(/block of 200000 bytes, more than the maximum of 131072/);
    const reserved = Buffer.concat([Buffer.from([...MAGIC, 0x00, wd(13)]), blockHeader(1, 3, true), Buffer.from([0])]);
    expect(decodeBody(reserved, ['zstd'], 1 << 24).error).toMatch(/reserved block type/);
    expect(decodeBody(Buffer.from('not zstd at all'), ['zstd'], 1 << 24).error).toMatch(/not a zstd frame/);
  });

  it('decodes real frames the same however the input is cut', async () => {
    const text = pseudoRandomText(300_000);
    const frame = await zstd.compress(text, 3);
    expect(decodeBody(frame, ['zstd'], 1 << 24)).toMatchObject({ decoded: true, truncated: false });
    expect(decodeBody(frame, ['zstd'], 1 << 24).bytes).toEqual(text);
    for (const step of [1, 7, 1000, 65536]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < frame.length; i += step) pieces.push(frame.subarray(i, i + step));
      const r = decodeStreaming(pieces);
      expect(r.error).toBeNull();
      expect(r.out.equals(text)).toBe(true);
    }
    // cut at the cap: exactly the first bytes
    const capped = decodeBody(frame, ['zstd'], 100_001);
    expect(capped.truncated).toBe(true);
    expect(capped.bytes.equals(text.subarray(0, 100_001))).toBe(true);
  });

  it('several frames, skippable frames, checksums and frames shorter than 18 bytes', async () => {
    const a = await zstd.compress(Buffer.from('first frame, '), 1);
    const body = Buffer.concat([a, skippable(Buffer.from('metadata')), rawFrame(Buffer.from('second')), rawFrame(Buffer.from('!'), false)]);
    expect(decodeBody(body, ['zstd'], 1 << 20).bytes.toString()).toBe('first frame, second!');
    expect(decodeStreaming([...body].map((x) => Buffer.from([x]))).out.toString()).toBe('first frame, second!');
    expect(decodeBody(rawFrame(Buffer.from('hi'), false), ['zstd'], 1 << 20).bytes.toString()).toBe('hi');
  });

  it('truncated input: the decodable prefix, an error unless the body may be cut short', async () => {
    const text = pseudoRandomText(200_000);
    const frame = await zstd.compress(text, 3);
    const cut = frame.subarray(0, frame.length - 1000); // inside its second (last) block
    const partial = decodeBody(cut, ['zstd'], 1 << 24, true);
    expect(partial.error).toBeUndefined();
    expect(partial.bytes.length).toBeGreaterThan(0);
    expect(partial.bytes.equals(text.subarray(0, partial.bytes.length))).toBe(true);
    expect(decodeBody(cut, ['zstd'], 1 << 24).error).toMatch(/unexpected end of data/);
  });
});
