/**
 * Content decoding of HTTP bodies (Content-Encoding): gzip, deflate, br with
 * node's zlib, zstd with fzstd (./zstd: bounded, block by block). Output is
 * bounded; truncated input yields the part that could be decoded.
 */
import type * as Zlib from 'node:zlib';
import { zlib } from '../core/lazy';
import { ZstdStream } from './zstd';

/** Codings this module decodes. */
export const SUPPORTED_CODINGS = ['gzip', 'x-gzip', 'deflate', 'br', 'zstd', 'identity'] as const;

/** Result of decoding a body. */
export interface DecodeResult {
  /** Decoded bytes (possibly partial). */
  bytes: Buffer;
  /** The decoded output was cut at the limit. */
  truncated: boolean;
  /** Why decoding stopped early or failed; bytes then hold what was decoded (or the input when nothing was). */
  error?: string;
  /** Whether the coding was applied (false: bytes are the input as-is). */
  decoded: boolean;
}

/** Split a Content-Encoding value into codings in the order they were applied. */
export function parseCodings(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && s !== 'identity');
}

/** True when every coding in the list can be decoded. */
export function canDecode(codings: readonly string[]): boolean {
  return codings.every((c) => (SUPPORTED_CODINGS as readonly string[]).includes(c));
}

/**
 * Decode a body given its codings (applied in order, so undone in reverse).
 * `partial`: the input may be cut short: decode what is there without error.
 */
export function decodeBody(input: Buffer, codings: readonly string[], maxOutput: number, partial = false): DecodeResult {
  if (codings.length === 0) return { bytes: input, truncated: false, decoded: false };
  if (!canDecode(codings)) return { bytes: input, truncated: false, decoded: false, error: `unsupported content-encoding: ${codings.join(', ')}` };
  let cur = input;
  let truncated = false;
  for (let i = codings.length - 1; i >= 0; i--) {
    const r = decodeOne(cur, codings[i], maxOutput, partial);
    if (r.error !== undefined && r.bytes.length === 0) return { bytes: input, truncated: false, decoded: false, error: r.error };
    if (r.error !== undefined) return { bytes: r.bytes, truncated: truncated || r.truncated, decoded: true, error: r.error };
    cur = r.bytes;
    truncated = truncated || r.truncated;
  }
  return { bytes: cur, truncated, decoded: true };
}

function decodeOne(input: Buffer, coding: string, maxOutput: number, partial: boolean): { bytes: Buffer; truncated: boolean; error?: string } {
  if (input.length === 0) return { bytes: input, truncated: false };
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlibDecode(input, maxOutput, partial, (b, o) => zlib().gunzipSync(b, o));
    case 'deflate': {
      // "deflate" is meant to be zlib-wrapped; some servers send raw deflate.
      const wrapped = input[0] !== undefined && (input[0] & 0x0f) === 8 && ((input[0] << 8) | (input[1] ?? 0)) % 31 === 0;
      return wrapped
        ? zlibDecode(input, maxOutput, partial, (b, o) => zlib().inflateSync(b, o))
        : zlibDecode(input, maxOutput, partial, (b, o) => zlib().inflateRawSync(b, o));
    }
    case 'br':
      return brotliDecode(input, maxOutput, partial);
    case 'zstd':
      return zstdDecode(input, maxOutput, partial);
    default:
      return { bytes: input, truncated: false };
  }
}

/** A one-shot zlib decoder with the options it is given (output bound, flush mode). */
export type ZlibFn = (b: Buffer, o: Zlib.ZlibOptions) => Buffer;

/**
 * Decode with `fn` within `maxOutput`: too much output gives the prefix that
 * fits (truncated); input cut short gives what it holds (an error unless `partial`).
 */
export function zlibDecode(input: Buffer, maxOutput: number, partial: boolean, fn: ZlibFn): { bytes: Buffer; truncated: boolean; error?: string } {
  try {
    return { bytes: fn(input, { maxOutputLength: maxOutput }), truncated: false };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Too much output, or truncated input: decode what can be with a sync flush.
    try {
      const out = fn(input, { finishFlush: zlib().constants.Z_SYNC_FLUSH, maxOutputLength: maxOutput });
      const tooBig = err.code === 'ERR_BUFFER_TOO_LARGE';
      return { bytes: out, truncated: tooBig, error: tooBig || partial ? undefined : err.message };
    } catch (e2) {
      const err2 = e2 as NodeJS.ErrnoException;
      if (err2.code === 'ERR_BUFFER_TOO_LARGE' || err.code === 'ERR_BUFFER_TOO_LARGE') {
        return prefixDecode(input, maxOutput, fn);
      }
      return { bytes: Buffer.alloc(0), truncated: false, error: err.message };
    }
  }
}

/** Decode growing prefixes until the output limit is hit (only for oversize output). */
function prefixDecode(input: Buffer, maxOutput: number, fn: ZlibFn): { bytes: Buffer; truncated: boolean } {
  let lo = 0;
  let best: Buffer = Buffer.alloc(0);
  let hi = input.length;
  // Binary search on the input length whose output still fits.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      best = fn(input.subarray(0, mid), { finishFlush: zlib().constants.Z_SYNC_FLUSH, maxOutputLength: maxOutput });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return { bytes: best, truncated: true };
}

function brotliDecode(input: Buffer, maxOutput: number, partial: boolean): { bytes: Buffer; truncated: boolean; error?: string } {
  try {
    return { bytes: zlib().brotliDecompressSync(input, { maxOutputLength: maxOutput }), truncated: false };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    try {
      const out = zlib().brotliDecompressSync(input, { finishFlush: zlib().constants.BROTLI_OPERATION_FLUSH, maxOutputLength: maxOutput });
      const tooBig = err.code === 'ERR_BUFFER_TOO_LARGE';
      return { bytes: out, truncated: tooBig, error: tooBig || partial ? undefined : err.message };
    } catch (e2) {
      const err2 = e2 as NodeJS.ErrnoException;
      if (err2.code === 'ERR_BUFFER_TOO_LARGE') {
        return prefixDecode(input, maxOutput, (b, o) => zlib().brotliDecompressSync(b, { ...o, finishFlush: zlib().constants.BROTLI_OPERATION_FLUSH }));
      }
      return { bytes: Buffer.alloc(0), truncated: false, error: err.message };
    }
  }
}

function zstdDecode(input: Buffer, maxOutput: number, partial: boolean): { bytes: Buffer; truncated: boolean; error?: string } {
  const z = new ZstdStream(maxOutput);
  const a = z.push(input);
  const b = a.truncated || a.error ? { bytes: Buffer.alloc(0) } : z.finish(partial);
  return { bytes: b.bytes.length ? Buffer.concat([a.bytes, b.bytes]) : a.bytes, truncated: z.truncated, ...(z.error ? { error: z.error } : {}) };
}

/**
 * Incremental decoder for streamed bodies: feed compressed pieces, get newly
 * decoded bytes. zstd is truly incremental; zlib codings re-decode the
 * received prefix with a sync flush, at geometrically spaced points so the
 * total work stays O(n log n); finish() decodes whatever is left.
 */
export class StreamingDecoder {
  private input: Buffer[] = [];
  private inputSize = 0;
  private decodedAt = 0;
  private emitted = 0;
  private zstd: ZstdStream | null = null;
  private failed: string | null = null;

  constructor(
    private readonly codings: readonly string[],
    private readonly maxOutput: number,
  ) {
    if (codings.length === 1 && codings[0] === 'zstd') this.zstd = new ZstdStream(maxOutput);
  }

  /** Compressed bytes held for re-decoding. */
  get heldBytes(): number {
    return this.inputSize > this.maxOutput ? 0 : this.input.reduce((n, b) => n + b.length, 0);
  }

  /** Error that stopped decoding, if any. */
  get error(): string | null {
    return this.failed;
  }

  /** Feed compressed bytes; returns decoded bytes not returned before (may be empty). */
  push(bytes: Buffer): Buffer {
    if (this.failed) return Buffer.alloc(0);
    if (this.zstd) return this.fromZstd(this.zstd.push(bytes));
    this.input.push(bytes);
    this.inputSize += bytes.length;
    if (this.inputSize > this.maxOutput) {
      // Re-decoding needs the whole compressed prefix: stop rather than hold an unbounded input.
      this.failed = `compressed stream longer than ${this.maxOutput} bytes: not decoded further`;
      this.input.length = 0;
      return Buffer.alloc(0);
    }
    if (this.inputSize - this.decodedAt < Math.max(1024, this.decodedAt / 2)) return Buffer.alloc(0);
    return this.redecode(true);
  }

  /** The body ended: returns the rest of the decoded bytes. */
  finish(): Buffer {
    if (this.failed) return Buffer.alloc(0);
    if (this.zstd) return this.fromZstd(this.zstd.finish(true));
    return this.redecode(true);
  }

  /** zstd output is cut at maxOutput by the decoder itself; an error stops decoding (what came before stands). */
  private fromZstd(r: { bytes: Buffer; error?: string }): Buffer {
    if (r.error) this.failed = r.error;
    this.emitted += r.bytes.length;
    return r.bytes;
  }

  private redecode(partial: boolean): Buffer {
    this.decodedAt = this.inputSize;
    const all = this.input.length === 1 ? this.input[0] : Buffer.concat(this.input);
    this.input.length = 0;
    this.input.push(all);
    const r = decodeBody(all, this.codings, this.maxOutput, partial);
    if (r.error && !r.decoded) {
      this.failed = r.error;
      return Buffer.alloc(0);
    }
    const fresh = r.bytes.subarray(this.emitted);
    this.emitted = Math.max(this.emitted, r.bytes.length);
    return Buffer.from(fresh);
  }
}
