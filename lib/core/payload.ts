import { isUtf8 } from 'node:buffer';
import type { Event } from './event';

/**
 * Exact bytes of an ssl event's plaintext.
 *
 * Events built by the tracer carry their bytes out of band (not serialised),
 * so in-process analyzers need no decoding; events read back from NDJSON are
 * decoded from data.data according to data.data_encoding ("utf8" | "base64").
 */
const PAYLOAD = Symbol.for('agentsight.payload');

export function attachPayload(e: Event, bytes: Buffer): void {
  Object.defineProperty(e, PAYLOAD, { value: bytes, enumerable: false, writable: true, configurable: true });
}

export function sslPayload(e: Event): Buffer {
  const held = (e as unknown as Record<symbol, Buffer | undefined>)[PAYLOAD];
  if (held) return held;
  const d = e.data as { data?: unknown; data_encoding?: unknown };
  if (typeof d.data !== 'string') return Buffer.alloc(0);
  return Buffer.from(d.data, d.data_encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * Text if the bytes are valid UTF-8, else base64: lossless either way. The
 * check is isUtf8() (no decoding): binary bodies of megabytes go straight to
 * base64 instead of being decoded to text with U+FFFD and re-encoded.
 */
export function encodePayload(bytes: Buffer): { data: string; data_encoding: 'utf8' | 'base64' } {
  if (isUtf8(bytes)) return { data: bytes.toString('utf8'), data_encoding: 'utf8' };
  return { data: bytes.toString('base64'), data_encoding: 'base64' };
}

/**
 * A text field from bytes the kernel gave (names, paths, arguments): the
 * text itself when the bytes are valid UTF-8; otherwise the text for display
 * (U+FFFD in place of what is not UTF-8) and the exact bytes in `b64`, which
 * the event carries as `<field>_b64` (docs/events.md, lossless text).
 */
export function losslessText(bytes: Buffer): { text: string; b64?: string } {
  const text = bytes.toString('utf8');
  return isUtf8(bytes) ? { text } : { text, b64: bytes.toString('base64') };
}

/** The exact bytes of text field `name` of `o`: from `<name>_b64` when present, else the field's UTF-8. */
export function textFieldBytes(o: Record<string, unknown>, name: string): Buffer {
  const b64 = o[`${name}_b64`];
  if (typeof b64 === 'string') return Buffer.from(b64, 'base64');
  const v = o[name];
  return Buffer.from(typeof v === 'string' ? v : '', 'utf8');
}
