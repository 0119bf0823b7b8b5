/** Small helpers shared by the HTTP analyzers. */
import type { Event } from '../core/event';
import { encodePayload } from '../core/payload';

/** Kernel-time nanoseconds of an event: mono_ns, else data.timestamp_ns, else wall clock. */
export function eventNs(e: Event): number {
  if (typeof e.mono_ns === 'number') return e.mono_ns;
  const ts = (e.data as { timestamp_ns?: unknown }).timestamp_ns;
  if (typeof ts === 'number') return ts;
  return e.timestamp * 1e6;
}

/** Milliseconds between two nanosecond times, 3 decimals. */
export function msBetween(fromNs: number, toNs: number): number {
  return Math.round((toNs - fromNs) / 1e3) / 1e3;
}

/** Join header fields into a record: names lower-case, repeats joined. */
export function headerRecord(fields: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of fields) {
    // Own-property check: a header named "constructor" or "__proto__" must not hit Object.prototype.
    // Plain assignment otherwise (defineProperty on every name would leave the record in dictionary mode).
    if (!Object.prototype.hasOwnProperty.call(out, name)) {
      if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
      else out[name] = value;
    } else out[name] = out[name] + (name === 'set-cookie' ? '\n' : ', ') + value;
  }
  return out;
}

/** Media type of a Content-Type value, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined | null): string | null {
  if (!contentType) return null;
  const t = contentType.split(';')[0].trim().toLowerCase();
  return t || null;
}

/** Hex and printable-text renderings of a few bytes (for error excerpts). */
export function excerpt(bytes: Buffer): { hex: string; text: string } {
  const b = bytes.subarray(0, 48);
  return {
    hex: b.toString('hex'),
    text: b.toString('latin1').replace(/[^\x20-\x7e]/g, '.'),
  };
}

/** Number of leading bytes of buf that end on a UTF-8 character boundary (holds back a cut sequence). */
export function utf8CompleteLength(buf: Buffer): number {
  const n = buf.length;
  // Look back at most 3 bytes for the start of a multi-byte sequence.
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    if ((b & 0x80) === 0) return n; // ASCII: complete
    const need = (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    return back >= need ? n : n - back;
  }
  return n;
}

/** Body text/base64 encoding, lossless. */
export function encodeBody(bytes: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  const p = encodePayload(bytes);
  return { text: p.data, encoding: p.data_encoding };
}
